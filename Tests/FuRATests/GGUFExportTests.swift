import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATrain
import Testing

/// `fura export`: an adapted model written as GGUF loads back (q/k permutation undone) with the same logits.
@Suite struct GGUFExportTests {
    static let modelConfig = ModelConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4,
                                         numKeyValueHeads: 2, vocabSize: 64)

    @Test(arguments: [(GGMLType.f32, 1e-5), (.f16, 5e-3), (.q8_0, 5e-2)])
    func exportedGGUFReloadsWithTheAdaptedLogits(type: GGMLType, tolerance: Double) throws {
        let root = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let model = try CausalLM.random(config: Self.modelConfig, seed: 5)
        let (config, _) = try AdapterFilesTests.method(.fura)
        _ = try TrainMethodSetup.apply(config, to: model)
        for (i, (_, p)) in model.namedParameters.enumerated() where p.trainable {
            for k in 0..<p.value.count { p.value.storage[k] += 0.05 * Float(((k &* 7 &+ i) % 11) - 5) / 5 }
        }
        let path = root + "/model.gguf"
        try GGUFExport.write(model, tokenizer: nil, name: "tiny", type: type, to: path)
        let loaded = try ModelLoader.load(path: path)
        #expect(loaded.config.numKeyValueHeads == 2 && loaded.config.modelType == "llama")
        #expect(try GGUFFile(path: path).tensorInfo(named: "blk.1.attn_k.weight")?.type == type)
        let a = try AdapterFilesTests.logits(model), b = try AdapterFilesTests.logits(loaded.model)
        let scale = Double(a.map { abs($0) }.max() ?? 1)
        let worst = Double(zip(a, b).map { abs($0 - $1) }.max() ?? 1)
        #expect(worst <= tolerance * scale, "\(type): logits differ by \(worst) (scale \(scale))")
    }
}
