import Foundation
import FuRAFormats
import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
import Testing

/// The SmolLM2 file when present: `FURA_TEST_MODEL`, or `cache/SmolLM2-135M-Instruct.Q4_1.gguf` in the package.
enum TestModel {
    static var packageRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    static var smolLM2Path: String? {
        let path = ProcessInfo.processInfo.environment["FURA_TEST_MODEL"]
            ?? packageRoot.appendingPathComponent("cache/SmolLM2-135M-Instruct.Q4_1.gguf").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
    static var available: Bool { smolLM2Path != nil }
    nonisolated(unsafe) static var cached: LoadedModel?
    static let lock = NSLock()
    /// Loads once per test process (tests run in parallel).
    static func smolLM2() throws -> LoadedModel {
        lock.lock(); defer { lock.unlock() }
        if let c = cached { return c }
        let loaded = try ModelLoader.load(path: smolLM2Path!)
        cached = loaded
        return loaded
    }

    struct Fixture: Decodable {
        struct Text: Decodable { var text: String; var ids: [Int]; var token_logprobs: [Double] }
        struct Greedy: Decodable { var prompt: String; var ids: [Int]; var greedy_next: [Int] }
        var texts: [Text]
        var greedy: [Greedy]
    }
    static func fixture() throws -> Fixture {
        let url = packageRoot.appendingPathComponent("Tests/Fixtures/smollm2_logprobs.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }
}

@Suite struct ModelLoaderTests {
    @Test func qkUnpermutationInvertsLlamaCppPermutation() throws {
        let w = TestSupport.random([3 * 8, 5], seed: 1)
        let permuted = try GGUFWeightMap.permuteRows(w, heads: 3)
        #expect(permuted != w)
        #expect(try GGUFWeightMap.unpermuteRows(permuted, heads: 3) == w)
        // GGUF row 2i+s of a head holds HF row s·D/2 + i: row 1 (i=0, s=1) is HF row 4.
        #expect(Array(permuted.storage[5..<10]) == Array(w.storage[20..<25]))
        #expect(throws: TensorError.self) { try GGUFWeightMap.unpermuteRows(w, heads: 5) }
    }

    @Test func tensorNamesMapBothWays() {
        let pairs = [("token_embd.weight", "model.embed_tokens.weight"), ("output.weight", "lm_head.weight"),
                     ("output_norm.weight", "model.norm.weight"), ("blk.12.attn_q.weight", "model.layers.12.self_attn.q_proj.weight"),
                     ("blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight"),
                     ("blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight"), ("blk.1.attn_k_norm.weight", "model.layers.1.self_attn.k_norm.weight")]
        for (g, h) in pairs {
            #expect(GGUFWeightMap.hfName(ofGGUF: g) == h)
            #expect(GGUFWeightMap.ggufName(ofHF: h) == g)
        }
        #expect(GGUFWeightMap.hfName(ofGGUF: "blk.x.attn_q.weight") == nil)
    }

    /// A random model written as a llama GGUF (permuted q/k, f32) loads back with the same outputs.
    @Test func tinyGGUFRoundTripGivesSameLogProbabilities() throws {
        let config = ModelConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                                 vocabSize: 40, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: true)
        let model = try CausalLM.random(config: config, seed: 11)
        var tensors: [(name: String, tensor: Tensor, type: GGMLType)] = []
        for (name, p) in model.namedParameters {
            var t = p.value
            if name.hasSuffix("q_proj.weight") { t = try GGUFWeightMap.permuteRows(t, heads: 4) }
            if name.hasSuffix("k_proj.weight") { t = try GGUFWeightMap.permuteRows(t, heads: 2) }
            tensors.append((GGUFWeightMap.ggufName(ofHF: name)!, t, .f32))
        }
        let metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("llama")), ("llama.context_length", .uint32(128)),
            ("llama.embedding_length", .uint32(32)), ("llama.block_count", .uint32(2)), ("llama.feed_forward_length", .uint32(64)),
            ("llama.attention.head_count", .uint32(4)), ("llama.attention.head_count_kv", .uint32(2)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)), ("llama.rope.freq_base", .float32(10000)),
            ("tokenizer.ggml.tokens", .array((0..<40).map { .string("t\($0)") })),
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fura-tiny-\(UInt32.random(in: 0...UInt32.max)).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try GGUFWriter().write(metadata: metadata, tensors: tensors, to: path)
        let loaded = try ModelLoader.load(path: path)
        #expect(loaded.config.tieWordEmbeddings && loaded.config.vocabSize == 40 && loaded.config.numKeyValueHeads == 2)
        let batch = TokenBatch(ids: [[1, 7, 30, 2, 9, 14]], labels: [[7, 30, 2, 9, 14, 3]], lengths: [6])
        let a = try model.labelLogProbabilities(batch)[0], b = try loaded.model.labelLogProbabilities(batch)[0]
        for (x, y) in zip(a, b) { #expect(abs(x - y) < 1e-5) }
    }

    /// A random model written as an HF directory (config.json + safetensors, sharded F32 and single F16) loads back.
    @Test func tinyHFDirectoryRoundTrip() throws {
        let config = ModelConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                                 vocabSize: 40, rmsNormEps: 1e-5, ropeTheta: 10000, tieWordEmbeddings: false, attentionBias: true)
        let model = try CausalLM.random(config: config, seed: 12)
        let tensors = model.namedParameters.map { ($0.name, $0.parameter.value) }
        let batch = TokenBatch(ids: [[1, 7, 30, 2, 9, 14]], labels: [[7, 30, 2, 9, 14, 3]], lengths: [6])
        let expected = try model.labelLogProbabilities(batch)[0]
        for (dtype, shardBytes, tolerance) in [(SafetensorsDtype.f32, 20_000, Float(1e-5)), (.f16, 5_000_000_000, 2e-2)] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fura-hf-\(UInt32.random(in: 0...UInt32.max))")
            defer { try? FileManager.default.removeItem(at: dir) }
            try SafetensorsWriter.write(tensors, dtype: dtype, to: dir.path, maxShardBytes: shardBytes)
            try JSONEncoder().encode(config).write(to: dir.appendingPathComponent("config.json"))
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors.index.json").path) == (dtype == .f32))
            let loaded = try ModelLoader.load(path: dir.path)
            #expect(loaded.config == config && loaded.tokenizer == nil)
            let got = try loaded.model.labelLogProbabilities(batch)[0]
            for (x, y) in zip(got, expected) { #expect(abs(x - y) < tolerance) }
        }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("fura-hf-empty-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: ModelError.self) { try ModelLoader.load(path: empty.path) }
    }

    struct TinyReference: Decodable {
        struct Sequence: Decodable { var ids: [Int]; var token_logprobs: [Double] }
        var sequences: [Sequence]
    }

    /// Tiny random BF16 HF models saved by transformers (Llama 3 rope scaling, Qwen2 biases, Qwen3 q/k norms
    /// and head_dim ≠ C/H, Phi-3 fused projections, Gemma 3 with sliding windows shorter than the sequences)
    /// give transformers' log-probabilities.
    @Test(arguments: ["llama3_scaled", "qwen2_bias", "qwen3_qknorm", "phi3_fused", "gemma3_sliding"])
    func tinyHFModelsMatchTransformers(name: String) throws {
        let dir = Self.tinyDirectory(name)
        let loaded = try ModelLoader.load(path: dir.path)
        #expect(loaded.config.attentionBias == (name == "qwen2_bias"))
        #expect(loaded.config.qkNorm == (name == "qwen3_qknorm" || name == "gemma3_sliding"))
        #expect((loaded.config.ropeScaling?.ropeType == "llama3") == (name == "llama3_scaled"))
        let worst = try Self.worstLogProbabilityGap(loaded.model, reference: dir)
        #expect(worst < 1e-4, "max |Δ log p| = \(worst)")
    }

    static func tinyDirectory(_ name: String) -> URL { TestModel.packageRoot.appendingPathComponent("Tests/Fixtures/tiny_hf/\(name)") }

    /// max |Δ log p| between `model` and the `logprobs.json` of the fixture directory `reference`.
    static func worstLogProbabilityGap(_ model: CausalLM, reference dir: URL) throws -> Double {
        let reference = try JSONDecoder().decode(TinyReference.self, from: Data(contentsOf: dir.appendingPathComponent("logprobs.json")))
        let sequences = reference.sequences.map(\.ids)
        let batch = TokenBatch.padded(sequences: sequences, targets: sequences.map { Array($0.dropFirst()) + [TokenBatch.ignoreIndex] }, padId: 0)
        let got = try model.labelLogProbabilities(batch)
        var worst = 0.0
        for (b, s) in reference.sequences.enumerated() {
            for (t, lp) in s.token_logprobs.enumerated() { worst = max(worst, abs(Double(got[b][t]) - lp)) }
        }
        return worst
    }

    @Test func missingFilesAndTensorsAreTypedErrors() throws {
        #expect(throws: ModelError.self) { try ModelLoader.load(path: "/nonexistent/model.gguf") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fura-broken-\(UInt32.random(in: 0...UInt32.max)).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("llama")), ("llama.embedding_length", .uint32(8)), ("llama.block_count", .uint32(1)),
            ("llama.feed_forward_length", .uint32(16)), ("llama.attention.head_count", .uint32(2)), ("llama.vocab_size", .uint32(10)),
        ]
        try GGUFWriter().write(metadata: metadata, tensors: [("token_embd.weight", Tensor.zeros([10, 8]), .f32)], to: path)
        #expect(throws: ModelError.missingTensor(source: path, tensor: "model.norm.weight")) { try ModelLoader.load(path: path) }
    }

    @Test(.enabled(if: TestModel.available)) func smolLM2ConfigFromGGUFMetadata() throws {
        let c = try TestModel.smolLM2().config
        #expect(c.hiddenSize == 576 && c.numHiddenLayers == 30 && c.numAttentionHeads == 9 && c.numKeyValueHeads == 3)
        #expect(c.intermediateSize == 1536 && c.vocabSize == 49152 && c.tieWordEmbeddings)
        #expect(c.ropeTheta == 100000)
    }

    @Test(.enabled(if: TestModel.available)) func smolLM2LogProbabilitiesMatchTransformers() throws {
        let model = try TestModel.smolLM2().model
        let fixture = try TestModel.fixture()
        let sequences = fixture.texts.map(\.ids)
        let targets = sequences.map { Array($0.dropFirst()) + [TokenBatch.ignoreIndex] }
        let batch = TokenBatch.padded(sequences: sequences, targets: targets, padId: 0)
        Threading.setThreadCount(2)
        let logProbabilities = try model.labelLogProbabilities(batch)
        var worst = 0.0
        for (b, text) in fixture.texts.enumerated() {
            for (t, expected) in text.token_logprobs.enumerated() { worst = max(worst, abs(Double(logProbabilities[b][t]) - expected)) }
        }
        #expect(worst < 1e-3, "max |Δ log p| = \(worst)")
    }

    @Test(.enabled(if: TestModel.available)) func smolLM2GreedyNextTokenMatchesTransformers() throws {
        let model = try TestModel.smolLM2().model
        for case let g in try TestModel.fixture().greedy {
            let logits = try model.logits(for: [g.ids])
            #expect(try logits.argmaxLastDimension() == [g.greedy_next[0]], "\(g.prompt)")
        }
    }
}
