import Foundation
import FuRA
import FuRAModels
import FuRANN
import FuRATensor
import Testing
@testable import FuRA

@Suite struct PlanTests {
    static let llama3 = ModelConfig(hiddenSize: 4096, intermediateSize: 14336, numHiddenLayers: 32, numAttentionHeads: 32,
                                    numKeyValueHeads: 8, vocabSize: 128256)
    static let qwen3 = ModelConfig(modelType: "qwen3", hiddenSize: 2048, intermediateSize: 6144, numHiddenLayers: 28, numAttentionHeads: 16,
                                   numKeyValueHeads: 8, headDim: 128, vocabSize: 151936, tieWordEmbeddings: true, qkNorm: true)

    /// The same path the CLI takes: config.json on disk → ModelConfig.load → ParameterPlan.make.
    @Test func llama3EightBWithPaperDefaultsTrains118685696() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("plan-llama3-\(UUID().uuidString).json")
        let json = #"{"model_type":"llama","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,"rms_norm_eps":1e-5}"#
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let plan = try ParameterPlan.make(config: try ModelConfig.load(contentsOf: url), method: .fura)
        #expect(plan.trainableParameters == 118_685_696)
        // Total after conversion: 8,030,261,248 original + the trainable small cores and S (no embedding resize).
        #expect(plan.totalParameters == 8_030_261_248 + 118_685_696)
        #expect(plan.modules.first { $0.leaf == "o_proj" }?.geometry == BTTGeometry(m: 1, a: 4096, n: 32, b: 128, r: 128))
        #expect(plan.modules.first { $0.leaf == "q_proj" }?.geometry == BTTGeometry(m: 1, a: 4096, n: 64, b: 64, r: 64))
        let encoded = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        #expect(encoded.contains(#""trainable_parameters":118685696"#))
        #expect(try JSONDecoder().decode(ParameterPlan.self, from: Data(encoded.utf8)) == plan)
    }

    /// `fura plan --processes N`: each process holds the whole plan plus the micro-batch window's gradient buffers
    /// (the sum, N > 1: its k local gradients and a receive buffer), and the host fits ⌊memory / that⌋ processes.
    @Test func perProcessMemoryOfADataParallelRun() throws {
        let binary = DistributedTrainTests.binary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "fura is built beside the tests (\(binary))")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("plan-dp-\(UUID().uuidString).json")
        try Data(#"{"model_type":"llama","hidden_size":256,"intermediate_size":512,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":1000}"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let run = try DistributedTrainTests.run(binary, ["plan", "--config", url.path, "--method", "lora", "--processes", "2", "--grad-accum", "3",
                                                         "--host-memory", "0.01", "--json"])
        try #require(run.status == 0, "\(run.output)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        let perProcess = try #require(object["per_process"] as? [String: Any])
        let trainable = try #require(object["trainable_parameters"] as? Int)
        let total = try #require((object["memory_bytes"] as? [String: Any])?["total"] as? Int)
        #expect(perProcess["window_buffer_bytes"] as? Int == trainable * 4 * (1 + 3 + 1))
        #expect(perProcess["total_per_process_bytes"] as? Int == total + trainable * 20)
        #expect(perProcess["processes_per_host"] as? Int == Int(0.01 * 1_073_741_824) / (total + trainable * 20))
        let bad = try DistributedTrainTests.run(binary, ["plan", "--config", url.path, "--processes", "0"])
        #expect(bad.status != 0 && bad.output.contains("--processes"))
    }

    @Test func qwen3WithKeepTrainableAndMergedS() throws {
        #expect(try ParameterPlan.make(config: Self.qwen3, method: .fura).trainableParameters == 42_721_280)
        var merged = ConversionOptions()
        merged.sMergedTo = .frozen
        #expect(try ParameterPlan.make(config: Self.qwen3, method: .fura, conversion: merged).trainableParameters == 42_205_184)
    }

    @Test func baselineFormulas() throws {
        let c = Self.llama3
        let perLayer = 2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14336 * 4096
        let original = 32 * perLayer + 2 * 128256 * 4096 + 32 * 2 * 4096 + 4096
        #expect(original == 8_030_261_248)
        let loraPerLayer = 32 * ((4096 + 4096) * 2 + (4096 + 1024) * 2 + 3 * (4096 + 14336))
        let lora = try ParameterPlan.make(config: c, method: .lora)
        #expect(lora.trainableParameters == 32 * loraPerLayer && lora.totalParameters == original + 32 * loraPerLayer)
        let dora = try ParameterPlan.make(config: c, method: .dora)
        #expect(dora.trainableParameters == lora.trainableParameters + 32 * (4096 * 2 + 1024 * 2 + 14336 * 2 + 4096))
        // QLoRA r=48 parity figure of the paper: 125,829,120.
        #expect(try ParameterPlan.make(config: c, method: .qlora, lora: LoRAPlanOptions(r: 48, alpha: 96)).trainableParameters == 125_829_120)
        #expect(try ParameterPlan.make(config: c, method: .qlora, lora: LoRAPlanOptions(r: 64)).trainableParameters == 167_772_160)
        #expect(try ParameterPlan.make(config: c, method: .qdora, lora: LoRAPlanOptions(r: 64)).trainableParameters == 169_148_416)
        let full = try ParameterPlan.make(config: c, method: .full)
        #expect(full.trainableParameters == original && full.totalParameters == original)
        // SVD baseline recipe: svd_a = U (O × min(O, I)) trains; biases none.
        let svd = try ParameterPlan.make(config: c, method: .svd)
        #expect(svd.trainableParameters == 32 * (2 * 4096 * 4096 + 2 * 1024 * 1024 + 2 * 14336 * 4096 + 4096 * 4096))
    }

    @Test func memoryComponents() throws {
        let c = Self.llama3
        let fura = try ParameterPlan.make(config: c, method: .fura, batchSize: 2, seqLen: 128)
        let m = fura.memoryBytes
        #expect(m.trainableWeights == 4 * fura.trainableParameters && m.gradients == m.trainableWeights)
        #expect(m.optimizerMoments == 2 * m.trainableWeights && m.frozenWeights == 4 * fura.frozenParameters)
        let q = try ParameterPlan.make(config: c, method: .qfura, batchSize: 2, seqLen: 128)
        #expect(q.trainableParameters == fura.trainableParameters)
        // The frozen cores (d_in·d_out each) are in NF4 at 4.127 bits.
        #expect(q.quantizedParameters == 32 * (2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14336 * 4096))
        let nf4 = Int((Double(q.quantizedParameters) * ParameterPlan.nf4BitsPerParameter / 8).rounded(.up))
        #expect(q.memoryBytes.frozenWeights == 4 * (q.frozenParameters - q.quantizedParameters) + nf4)
        #expect(abs(ParameterPlan.nf4BitsPerParameter - 4.127) < 1e-3)
        let longer = try ParameterPlan.make(config: c, method: .fura, batchSize: 2, seqLen: 256)
        // Linear in the sequence length (attention keeps 2 numbers per query row, not T): twice the tokens keep
        // twice the activations, but still one chunk of logits and their gradient.
        let logitChunk = 4 * MaskedCrossEntropy.defaultChunkRows * 2 * c.vocabSize
        #expect(longer.memoryBytes.activations == 2 * m.activations - logitChunk)
    }

    /// What `fura train` keeps, as the plan counts it: with gradient checkpointing the block inputs and one block's
    /// activations; at bf16 the head packed for its two products and each method's packings of its f32 projection
    /// weights (none for NF4 weights, which are packed tile by tile).
    @Test func checkpointingAndBF16Packings() throws {
        let c = Self.llama3
        let dense = 32 * (2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14336 * 4096), head = 4 * c.vocabSize * c.hiddenSize
        func plan(_ method: MethodName, checkpointing: Bool = false, precision: ComputePrecision = .f32) throws -> ParameterPlan.Memory {
            try ParameterPlan.make(config: c, method: method, batchSize: 1, seqLen: 256, gradientCheckpointing: checkpointing,
                                   precision: precision).memoryBytes
        }
        let full = try plan(.fura), checkpointed = try plan(.fura, checkpointing: true)
        #expect(checkpointed.activations < full.activations / 5)
        #expect(checkpointed.activations > 4 * 256 * 32 * 4096)   // at least the 32 block inputs
        #expect(full.bf16Packings == 0)
        #expect(try plan(.fura, precision: .bf16).bf16Packings == head + 2 * dense)    // L's panels
        #expect(try plan(.lora, precision: .bf16).bf16Packings == head + 4 * dense)    // each base for both products
        #expect(try plan(.qlora, precision: .bf16).bf16Packings == head)               // NF4 bases: per tile
        // At bf16 the MLP keeps gate and up in 2 bytes: I floats less per token and layer (I = 14336).
        #expect(full.activations - (try plan(.fura, precision: .bf16)).activations == 4 * 256 * 32 * 14336)
        let bf16 = try plan(.qfura, checkpointing: true, precision: .bf16)
        #expect(bf16.total == bf16.frozenWeights + bf16.trainableWeights + bf16.gradients + bf16.optimizerMoments
                + bf16.activations + bf16.bf16Packings)
        // A plan written before the key existed still reads.
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(full)) as! [String: Any]
        object.removeValue(forKey: "bf16_packings")
        #expect(try JSONDecoder().decode(ParameterPlan.Memory.self, from: JSONSerialization.data(withJSONObject: object)) == full)
    }

    @Test func badPlansAreTypedErrors() throws {
        var both = ConversionOptions()
        both.trainPosition = "both"
        both.sMergedTo = nil
        #expect(throws: ConversionError.self) { try ParameterPlan.make(config: Self.llama3, method: .qfura, conversion: both) }
        #expect(try ParameterPlan.make(config: Self.llama3, method: .fura, conversion: both).trainableParameters
            == ParameterPlan.make(config: Self.llama3, method: .fura, conversion: both).totalParameters)
        var bad = ConversionOptions()
        bad.inputFactorization = .uniform(.pair(3, 5))
        #expect(throws: ConversionError.factorizationMismatch(module: "model.layers.0.self_attn.q_proj", option: "input_factorization",
                                                              blocks: 3, blockSize: 5, features: 4096)) {
            try ParameterPlan.make(config: Self.llama3, method: .fura, conversion: bad)
        }
        #expect(throws: ConversionError.self) { try ParameterPlan.make(config: Self.llama3, method: .lora, lora: LoRAPlanOptions(r: 0)) }
        #expect(throws: ConversionError.self) { try ParameterPlan.make(config: Self.llama3, method: .fura, batchSize: 0) }
    }
}
