import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATrain
import Testing

/// Phi-3's fused `qkv_proj` and `gate_up_proj`: split into separate slots at load, re-fused by merge and export.
@Suite struct FusedProjectionTests {
    static let phi3 = ModelLoaderTests.tinyDirectory("phi3_fused")

    @Test func loaderSplitsFusedWeightsIntoSeparateSlots() throws {
        let loaded = try ModelLoader.load(path: Self.phi3.path)
        let c = loaded.config
        #expect(c.family == .phi3)
        #expect(loaded.model.blocks.allSatisfy { $0.attention.window == 6 })  // Phi-3's sliding_window is on every layer
        let store = try SafetensorsStore(directory: Self.phi3.path)
        let qkv = try store.tensor(named: "model.layers.1.self_attn.qkv_proj.weight")
        let q = try #require(loaded.model.linear(named: "model.layers.1.self_attn.q_proj")).denseWeight()
        let v = try #require(loaded.model.linear(named: "model.layers.1.self_attn.v_proj")).denseWeight()
        let (qRows, kvRows) = (c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim)
        #expect(q.storage == Array(qkv.storage[0..<(qRows * c.hiddenSize)]))
        #expect(v.storage == Array(qkv.storage[((qRows + kvRows) * c.hiddenSize)...]))
        let gateUp = try store.tensor(named: "model.layers.0.mlp.gate_up_proj.weight")
        let up = try #require(loaded.model.linear(named: "model.layers.0.mlp.up_proj")).denseWeight()
        #expect(up.storage == Array(gateUp.storage[(c.intermediateSize * c.hiddenSize)...]))
    }

    @Test func mergeAndExportReFuseAndReloadAlike() throws {
        let loaded = try ModelLoader.load(path: Self.phi3.path)
        let root = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try MergedModel.write(loaded, to: root + "/merged")
        let names = try SafetensorsStore(directory: root + "/merged").tensorNames
        #expect(names.contains("model.layers.0.self_attn.qkv_proj.weight") && names.contains("model.layers.1.mlp.gate_up_proj.weight"))
        #expect(!names.contains { $0.hasSuffix("q_proj.weight") || $0.hasSuffix(".gate_proj.weight") })
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/merged/config.json"))) as? [String: Any]
        #expect(config?["architectures"] as? [String] == ["Phi3ForCausalLM"])
        let merged = try ModelLoader.load(path: root + "/merged")
        #expect(try ModelLoaderTests.worstLogProbabilityGap(merged.model, reference: Self.phi3) < 1e-4)

        try GGUFExport.write(loaded.model, tokenizer: nil, name: "phi3", type: .f32, to: root + "/phi3.gguf")
        let file = try GGUFFile(path: root + "/phi3.gguf")
        #expect(file.metadata["general.architecture"]?.asString == "phi3")
        #expect(file.tensorInfo(named: "blk.0.attn_qkv.weight") != nil && file.tensorInfo(named: "blk.0.ffn_up.weight")?.shape == [96, 32])
        let exported = try ModelLoader.load(path: root + "/phi3.gguf")
        #expect(try ModelLoaderTests.worstLogProbabilityGap(exported.model, reference: Self.phi3) < 1e-4)
    }
}
