import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor
import FuRATrain
import Testing

/// `fura make-model --random`: the checkpoint tensor list of each family loads back through the HF loader (names,
/// shapes, fused layouts), shards and their index are right, and the values have the asked distribution.
@Suite struct RandomModelTests {
    static let families: [(String, String)] = [
        ("llama", #"{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 96}"#),
        ("qwen2", #"{"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 96, "tie_word_embeddings": true}"#),
        ("qwen3", #"{"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "vocab_size": 96}"#),
        ("phi3", #"{"model_type": "phi3", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 96}"#),
        ("gemma3_text", #"{"model_type": "gemma3_text", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "vocab_size": 96, "sliding_window": 8}"#),
    ]

    static func config(_ json: String) throws -> ModelConfig { try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8)) }

    @Test(arguments: RandomModelTests.families.map(\.0))
    func writtenCheckpointLoadsBackThroughTheHFLoader(family: String) throws {
        let config = try Self.config(try #require(Self.families.first { $0.0 == family }).1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fura-random-\(family)-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try RandomModel.write(config: config, seed: 1, dtype: .f32, to: dir, maxShardBytes: 100_000)
        let store = try SafetensorsStore(directory: dir)
        #expect(store.tensorNames.sorted() == config.checkpointTensors.map(\.name).sorted())
        #expect(FileManager.default.fileExists(atPath: dir + "/model.safetensors.index.json"), "several shards of 100 kB")
        let loaded = try ModelLoader.load(path: dir)
        #expect(loaded.config.family == config.family)
        let logits = try loaded.model.logits(for: [[1, 5, 7]])
        let finite = logits.storage.allSatisfy { $0.isFinite }
        #expect(finite)
    }

    @Test func valuesHaveTheAskedDistributionAndTheSeedDecides() throws {
        let config = try Self.config(Self.families[0].1)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fura-random-values-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for (name, seed) in [("a", UInt64(3)), ("b", 3), ("c", 4)] {
            try RandomModel.write(config: config, seed: seed, std: 0.05, dtype: .bf16, to: root + "/" + name, chunk: 1000)
        }
        let a = try SafetensorsStore(directory: root + "/a"), b = try SafetensorsStore(directory: root + "/b")
        let c = try SafetensorsStore(directory: root + "/c")
        let up = "model.layers.1.mlp.up_proj.weight"
        let values = try a.tensor(named: up).storage
        let mean = values.reduce(0, +) / Float(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
        #expect(abs(mean) < 0.005 && abs(std - 0.05) < 0.003, "mean \(mean), std \(std)")
        let (same, other) = (try b.tensor(named: up), try c.tensor(named: up))
        #expect(same.storage == values && other.storage != values)
        let norm = try a.tensor(named: "model.layers.0.input_layernorm.weight")
        #expect(norm.storage.allSatisfy { $0 == 1 })
        #expect(a.info(named: up)?.dtype == .bf16)
    }
}
