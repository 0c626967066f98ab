import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATensor
import FuRATrain
import FuRAVision

/// Valid, small inputs of every format (the corpus the mutations start from), made by fura's own writers so they
/// follow the code: a tiny Llama GGUF (f32 and q8_0, with and without a byte-level BPE tokenizer), safetensors of
/// three element types, the tokenizer.json itself, config.json files, run configs, training data in each record
/// format, and a PEFT LoRA adapter of the tiny model.
public enum FuzzSeeds {
    public static let sampleText = "Hello world, ab ba! 123 \u{e9}\u{4e2d} <|endoftext|>"

    /// The tiny model's shape (q8_0 needs rows of 32).
    public static func tinyConfig(vocabulary: Int) -> ModelConfig {
        ModelConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2,
                    vocabSize: vocabulary)
    }

    /// Whether a validated config is small enough to build and run in a fuzz case (about 2M parameters at most).
    public static func isSmall(_ c: ModelConfig) -> Bool {
        let layer = c.hiddenSize.multipliedReportingOverflow(by: 3 * c.intermediateSize + 4 * c.headDim * c.numAttentionHeads)
        let total = layer.partialValue.multipliedReportingOverflow(by: c.numHiddenLayers)
        let table = c.vocabSize.multipliedReportingOverflow(by: 2 * c.hiddenSize)
        return !layer.overflow && !total.overflow && !table.overflow && total.partialValue + table.partialValue <= 2_000_000
    }

    /// A byte-level BPE tokenizer.json: the 256 byte symbols, a few merges, an end-of-text token.
    public static let tokenizerJSON: String = {
        var vocab: [String: Int] = [:]
        for (byte, scalar) in ByteLevel.byteToScalar.enumerated() { vocab[String(Character(scalar))] = byte }
        let merges = [("a", "b"), ("\u{120}", "w"), ("l", "l"), ("ll", "o")]
        for (a, b) in merges { vocab[a + b] = vocab.count }
        let object: [String: Any] = [
            "version": "1.0",
            "added_tokens": [["id": vocab.count, "content": "<|endoftext|>", "special": true]],
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            "decoder": ["type": "ByteLevel"],
            "model": ["type": "BPE", "vocab": vocab, "merges": merges.map { "\($0.0) \($0.1)" }],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }()

    /// The SFT tokenizer of the training-data target: bytes as ids, a plain chat template.
    public static let byteTokenizer = SFTTokenizer(
        encode: { text in text.utf8.prefix(4096).map(Int.init) }, eosText: "</s>", padId: 0,
        chatTemplate: { messages, generation in
            messages.map { "<\($0.role)>\($0.content)" }.joined() + (generation ? "<assistant>" : "")
        })

    /// The seeds of `format`.
    public static func seeds(_ format: FuzzFormat) throws -> [[UInt8]] {
        switch format {
        case .gguf: return try ggufSeeds()
        case .safetensors: return [safetensorsSeed()]
        case .tokenizer: return [Array(tokenizerJSON.utf8)]
        case .modelConfig:
            return [
                #"{"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 40, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 128, "tie_word_embeddings": true, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}"#,
                #"{"model_type": "gemma3_text", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "vocab_size": 40, "sliding_window": 8, "layer_types": ["sliding_attention", "full_attention"], "query_pre_attn_scalar": 16, "rope_local_base_freq": 10000.0}"#,
            ].map { Array($0.utf8) }
        case .runConfig:
            return [
                "# fura train --config run.yaml\nmodel: m.gguf\ndata: d.json\noutput: out\nmethod: fura\nlr: 2e-4\nbatch_size: 4\nwarmup: 10\nbetas: [0.9, 0.95]\neval_every: null\nmax_seq_len: 256\nrank: full\ndecomp_mode: output_one_block\n",
                #"{"model": "m.gguf", "data": "d.json", "output": "out", "method": "lora", "lora_rank": 16, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"], "epochs": 1, "val_size": 10}"#,
            ].map { Array($0.utf8) }
        case .trainingData:
            return [
                #"[{"instruction": "Is the sky blue?", "input": "", "output": "the correct answer is true", "answer": "true"}, {"instruction": "2+2", "input": "x", "output": "4", "answer": "4"}]"#,
                "{\"prompt\": \"Say hi\", \"completion\": \" hi\"}\n{\"prompt\": \"Count\", \"completion\": \" 1 2 3\"}\n",
                #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}"# + "\n",
                "{\"text\": \"plain text to learn\"}\n",
            ].map { Array($0.utf8) }
        case .adapterConfig:
            return [try adapterSeed.get().config]
        case .image: return try pngSeeds() + [[UInt8](Data(base64Encoded: greyJPEG) ?? Data())]
        case .onnx: return [onnxSeed()]
        case .visualData:
            return [
                #"[{"id": "1", "image": "a.png", "conversations": [{"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A bag."}, {"from": "human", "value": "Sure?"}, {"from": "gpt", "value": "Yes."}]}, {"id": 2, "image": "a.png", "conversations": [{"from": "human", "value": "Hi <image>"}, {"from": "gpt", "value": "Hello."}]}]"#,
            ].map { Array($0.utf8) }
        }
    }

    /// A 9×7 grey JPEG written by Pillow (quality 85).
    static let greyJPEG = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwXExQaFRERGCEYGh0dHx8fExciJCIeJBweHx7/wAALCAAHAAkBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/AO78S/8AJDl/64f0r4+r/9k="

    /// Grey, RGB and RGBA PNGs written by fura's own encoder.
    public static func pngSeeds() throws -> [[UInt8]] {
        let grey: [UInt8] = [0, 64, 128, 255, 7, 9]
        let rgb: [UInt8] = (0..<18).map { UInt8($0 * 13) }
        let rgba: [UInt8] = (0..<24).map { UInt8($0 * 10) }
        return try [(1, grey), (3, rgb), (4, rgba)].map { (channels: Int, pixels: [UInt8]) in
            try PixelImage(width: 3, height: 2, channels: channels, pixels: pixels).encoded()
        }
    }

    /// A small ONNX model in protobuf wire format: one initializer (a 2×2 float matrix) and a MatMul named like a ViT's
    /// first query projection, so a tower reader goes past its first check.
    static func onnxSeed() -> [UInt8] {
        func varint(_ value: Int) -> [UInt8] {
            var v = UInt64(value), out: [UInt8] = []
            repeat { out.append(UInt8(v & 0x7F) | (v > 0x7F ? 0x80 : 0)); v >>= 7 } while v > 0
            return out
        }
        func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(bytes.count) + bytes }
        func field(_ number: Int, int value: Int) -> [UInt8] { varint(number << 3) + varint(value) }
        func text(_ number: Int, _ s: String) -> [UInt8] { field(number, Array(s.utf8)) }
        let weights: [Float] = [1, 0.5, -0.25, 2]
        let tensor = field(1, int: 2) + field(1, int: 2) + field(2, int: 1) + text(8, "w")
            + field(9, weights.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        let node = text(1, "x") + text(1, "w") + text(2, "y") + text(3, "/encoder/layer.0/attention/attention/query/MatMul")
            + text(4, "MatMul") + field(5, text(1, "axis") + field(3, int: 1))
        let graph = field(1, node) + field(5, tensor)
        return field(1, int: 7) + field(7, graph)
    }

    static func ggufSeeds() throws -> [[UInt8]] {
        let scratch = try FuzzScratch(tag: "seeds")
        defer { scratch.remove() }
        let tokenizerPath = try scratch.write(Array(tokenizerJSON.utf8), as: "tokenizer.json")
        let tokenizer = try Tokenizer(tokenizerJSON: tokenizerPath)
        let metadata = try GGUFExport.tokenizerMetadata(tokenizerJSON: tokenizerPath, tokenizer: tokenizer)
        var seeds: [[UInt8]] = []
        for (withTokenizer, type) in [(false, GGMLType.f32), (true, .f32), (true, .q8_0)] {
            let model = try CausalLM.random(config: tinyConfig(vocabulary: withTokenizer ? tokenizer.vocabularySize : 40), seed: 2)
            let path = scratch.directory + "/seed.gguf"
            try GGUFExport.write(model, tokenizer: withTokenizer ? metadata : nil, name: "tiny", type: type, to: path)
            seeds.append(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        }
        return seeds
    }

    static func safetensorsSeed() -> [UInt8] {
        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},"c":{"dtype":"F16","shape":[2],"data_offsets":[32,36]}}"#
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) }
        bytes += Array(header.utf8)
        for v: Float in [1, -2, 0.5, 3, 1e-3, -7] { bytes += withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        bytes += [0x80, 0x3F, 0x00, 0x40, 0x80, 0xBF, 0x00, 0x00]  // bf16 1, 2, -1, 0
        bytes += [0x00, 0x3C, 0x00, 0xC0]  // f16 1, -2
        return bytes
    }

    /// A PEFT LoRA adapter of the tiny model (vocabulary 40): its config (the seed) and its tensors (kept as they are).
    static let adapterSeed = Result<(config: [UInt8], tensors: [UInt8]), any Error> {
        let scratch = try FuzzScratch(tag: "adapter-seed")
        defer { scratch.remove() }
        let model = try CausalLM.random(config: tinyConfig(vocabulary: 40), seed: 3)
        let config = try TrainConfig.resolve(file: nil, overrides: [
            "model": "tiny", "data": "d", "output": "o", "method": "lora", "lora_rank": 4, "lora_alpha": 8,
        ])
        _ = try TrainMethodSetup.apply(config, to: model)
        _ = try AdapterFiles.save(model, method: AdapterMethod(config: config), to: scratch.directory)
        return (Array(try Data(contentsOf: URL(fileURLWithPath: scratch.directory + "/" + AdapterFiles.configName))),
                Array(try Data(contentsOf: URL(fileURLWithPath: scratch.directory + "/" + AdapterFiles.tensorsName))))
    }

    /// A fresh tiny base model for each adapter input, and the adapter's tensors.
    static func adapterBase() throws -> (() throws -> CausalLM, [UInt8]) {
        let seed = try adapterSeed.get()
        return ({ try CausalLM.random(config: tinyConfig(vocabulary: 40), seed: 3) }, seed.tensors)
    }
}
