import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor

/// Writes a (possibly adapted) model as a dense Hugging Face directory: `config.json`, safetensors shards with
/// `model.safetensors.index.json` (HF tensor names), and tokenizer files.
public enum MergedModel {
    /// Every tensor of the dense model under its HF name: adapted projections are folded (`denseWeight()`),
    /// and re-fused where the family's checkpoint fuses them (Phi-3's `qkv_proj`, `gate_up_proj`).
    public static func denseTensors(_ model: CausalLM) throws -> [(String, Tensor)] {
        var out = model.otherParameters.map { ($0.name, $0.parameter.value) }
        for slot in model.linearSlotNames {
            guard let layer = model.linear(named: slot) else { continue }
            out.append((slot + ".weight", try layer.denseWeight()))
            if let b = layer.denseBias { out.append((slot + ".bias", b)) }
        }
        return try model.config.family.fusingProjections(out)
    }

    /// `config.json` of `config` with HF keys, `architectures` and `torch_dtype`.
    public static func hfConfig(_ config: ModelConfig, dtype: SafetensorsDtype) throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any] else {
            throw ModelError.unsupported(source: "config", what: "writing config.json", reason: "the config does not encode to an object")
        }
        object["architectures"] = [config.family.className]
        object["torch_dtype"] = dtype == .bf16 ? "bfloat16" : dtype == .f16 ? "float16" : "float32"
        object["hidden_act"] = config.family.activation.rawValue
        object["hidden_activation"] = config.family.activation.rawValue  // Gemma's key
        object["head_dim"] = config.headDim
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// Writes `loaded.model` (adapted or not) into `directory`; the tokenizer comes from `loaded.sourcePath`
    /// (copied from an HF directory, or built from a GGUF's `tokenizer.ggml.*`).
    public static func write(_ loaded: LoadedModel, to directory: String, dtype: SafetensorsDtype = .f32,
                             maxShardBytes: Int = 2_000_000_000) throws {
        try write(loaded.model, sourcePath: loaded.sourcePath, gguf: loaded.gguf, to: directory, dtype: dtype, maxShardBytes: maxShardBytes)
    }

    /// Writes `model`; tokenizer files come from the HF directory `sourcePath` or from `gguf`'s metadata.
    public static func write(_ model: CausalLM, sourcePath: String, gguf: GGUFFile?, to directory: String,
                             dtype: SafetensorsDtype = .f32, maxShardBytes: Int = 2_000_000_000) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory)
        try SafetensorsWriter.write(try denseTensors(model), dtype: dtype, to: directory, maxShardBytes: maxShardBytes)
        try AtomicWrite.write(try hfConfig(model.config, dtype: dtype), to: dir.appendingPathComponent("config.json").path)
        try writeTokenizerFiles(sourcePath: sourcePath, gguf: gguf, to: directory)
    }

    /// The tokenizer files of an HF directory: copied from the HF directory `sourcePath`, or built from `gguf`'s
    /// `tokenizer.ggml.*` metadata; nothing when neither has a tokenizer.
    public static func writeTokenizerFiles(sourcePath: String, gguf: GGUFFile?, to directory: String) throws {
        let dir = URL(fileURLWithPath: directory)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: sourcePath, isDirectory: &isDirectory), isDirectory.boolValue {
            for name in ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", ChatTemplate.jinjaFileName] {
                let source = URL(fileURLWithPath: sourcePath).appendingPathComponent(name)
                guard let data = try? Data(contentsOf: source) else { continue }
                try AtomicWrite.write(data, to: dir.appendingPathComponent(name).path)
            }
        } else if let gguf, gguf.metadata["tokenizer.ggml.model"] != nil {
            let (tokenizerJSON, tokenizerConfig) = try TokenizerJSONExport.files(ggufMetadata: gguf.metadata, source: gguf.path)
            try AtomicWrite.write(tokenizerJSON, to: dir.appendingPathComponent("tokenizer.json").path)
            try AtomicWrite.write(tokenizerConfig, to: dir.appendingPathComponent("tokenizer_config.json").path)
        }
    }
}
