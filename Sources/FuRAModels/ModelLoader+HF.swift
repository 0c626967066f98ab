import Foundation
import FuRAFormats
import FuRATensor

extension ModelLoader {
    /// An HF directory: `config.json` plus `model.safetensors` or shards listed in
    /// `model.safetensors.index.json` (F32/F16/BF16), and `tokenizer.json` when present.
    static func loadHFDirectory(_ path: String, deferProjections: Bool = false) throws -> LoadedModel {
        let directory = URL(fileURLWithPath: path)
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ModelError.unreadable(path: configURL.path, reason: "an HF model directory needs config.json")
        }
        let config = try ModelConfig.load(contentsOf: configURL)
        let store = try SafetensorsStore(directory: path)
        let stored: (String) throws -> Tensor? = { name in store.info(named: name) == nil ? nil : try store.tensor(named: name) }
        let model = try CausalLM(config: config, source: path, deferProjections: deferProjections, tensor: config.family.splittingFused(stored, config: config))
        let tokenizerPath = directory.appendingPathComponent("tokenizer.json").path
        let tokenizerConfigPath = directory.appendingPathComponent("tokenizer_config.json").path
        var tokenizer: Tokenizer?
        if FileManager.default.fileExists(atPath: tokenizerPath) {
            tokenizer = try Tokenizer(tokenizerJSON: tokenizerPath,
                                      tokenizerConfig: FileManager.default.fileExists(atPath: tokenizerConfigPath) ? tokenizerConfigPath : nil)
        }
        return LoadedModel(model: model, config: config, sourcePath: path, loadSeconds: 0, tokenizer: tokenizer, gguf: nil)
    }
}
