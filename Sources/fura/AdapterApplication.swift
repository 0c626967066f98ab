import Foundation
import FuRA
import FuRAModels
import FuRATrain
import FuRAFormats
import FuRATensor

/// Applies the adapter directory `dir` (PEFT LoRA/DoRA or FuRA/SVD, see `AdapterFiles`) to a freshly loaded
/// model and says so on standard error. Every command's `--adapter` goes through here.
func applyAdapter(_ dir: String, to loaded: LoadedModel) throws {
    let method = try AdapterFiles.load(dir, into: loaded.model)
    var line = "adapter \(dir): \(method.method.rawValue) applied"
    // A PEFT config cannot say the base was NF4; our safetensors metadata does. Changing the base's weights is loud.
    if method.baseFormat == .nf4 {
        line += " — its adapter_model.safetensors metadata (fura_method: \(method.method.rawValue)) says it was trained on an NF4 base,"
            + " so the base's target projections were quantized to NF4 as in training"
    }
    if let mismatch = method.baseModelMismatch(loadedPath: loaded.sourcePath) {
        line += "\n" + mismatch
    }
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// What `generate`, `chat` and `score` do first: the thread count, the model, its adapter, and its tokenizer, which
/// `purpose` ("generation from text") needs.
func loadModelWithTokenizer(_ model: String, adapter: String?, threads: Int?, purpose: String) throws -> (LoadedModel, Tokenizer) {
    if let threads { Threading.setThreadCount(threads) }
    let loaded = try ModelLoader.load(path: model)
    if let adapter { try applyAdapter(adapter, to: loaded) }
    guard let tokenizer = loaded.tokenizer else {
        throw ModelError.unsupported(source: model, what: purpose, reason: "the model has no tokenizer")
    }
    return (loaded, tokenizer)
}
