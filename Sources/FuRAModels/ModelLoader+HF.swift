import Foundation
import FuRATensor

extension ModelLoader {
    /// An HF directory: `config.json` plus `model.safetensors` or shards listed in `model.safetensors.index.json`.
    static func loadHFDirectory(_ path: String) throws -> LoadedModel {
        throw ModelError.unsupported(source: path, what: "HF directory", reason: "safetensors reading is not available in this build yet; pass a .gguf file")
    }
}
