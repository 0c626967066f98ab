import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATrain
import Testing

/// `fura merge`'s writer: an adapted model folded into a dense HF directory loads back with the same logits.
@Suite struct MergedModelTests {
    @Test(arguments: [TrainMethod.fura, .lora, .dora, .qfura])
    func mergedDirectoryReloadsWithTheAdaptedLogits(method m: TrainMethod) throws {
        let root = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The base as an HF directory (itself a plain merge of an unadapted model), then adapted, saved, merged.
        let baseDir = root + "/base", adapterDir = root + "/adapter", mergedDir = root + "/merged"
        try MergedModel.write(try CausalLM.random(config: AdapterFilesTests.modelConfig, seed: 11), sourcePath: "random", gguf: nil,
                              to: baseDir, maxShardBytes: 8_000)
        #expect(FileManager.default.fileExists(atPath: baseDir + "/model.safetensors.index.json"))
        let (adapted, method) = try AdapterFilesTests.adapted(m)
        try AdapterFiles.save(adapted, method: method, to: adapterDir)
        let loaded = try ModelLoader.load(path: baseDir)
        try AdapterFiles.load(adapterDir, into: loaded.model)
        try MergedModel.write(loaded, to: mergedDir, maxShardBytes: 8_000)
        let merged = try ModelLoader.load(path: mergedDir)
        let a = try AdapterFilesTests.logits(adapted), b = try AdapterFilesTests.logits(merged.model)
        let scale = a.map { abs($0) }.max() ?? 1
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= 1e-4 * scale, "\(m): merged logits differ by \(worst) (scale \(scale))")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: mergedDir + "/config.json"))) as? [String: Any]
        #expect(config?["architectures"] as? [String] == ["LlamaForCausalLM"])
        #expect(config?["torch_dtype"] as? String == "float32")
    }

    @Test(.enabled(if: FormatFixtures.hasSmolLM2)) func tokenizerJSONFromGGUFEncodesAlike() throws {
        let gguf = try GGUFFile(path: FormatFixtures.smolLM2Path)
        let root = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (json, config) = try TokenizerJSONExport.files(ggufMetadata: gguf.metadata, source: gguf.path)
        try json.write(to: URL(fileURLWithPath: root + "/tokenizer.json"))
        try config.write(to: URL(fileURLWithPath: root + "/tokenizer_config.json"))
        let original = try Tokenizer(ggufMetadata: gguf.metadata)
        let rebuilt = try Tokenizer(tokenizerJSON: root + "/tokenizer.json", tokenizerConfig: root + "/tokenizer_config.json")
        for text in ["Hello, world! 12345 tokens", "<|im_start|>user\nWhat is 7×8?<|im_end|>\n", "  spaces\tand\nnewlines ünïcode"] {
            #expect(rebuilt.encode(text) == original.encode(text), "\(text)")
        }
        #expect(rebuilt.eosId == original.eosId && rebuilt.bosId == original.bosId)
        #expect(rebuilt.chatTemplate != nil)
    }
}
