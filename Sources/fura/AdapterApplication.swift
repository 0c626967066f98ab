import Foundation
import FuRA
import FuRAModels
import FuRATrain

/// Applies the adapter directory `dir` (PEFT LoRA/DoRA or FuRA/SVD, see `AdapterFiles`) to a freshly loaded
/// model and says so on standard error. Every command's `--adapter` goes through here.
func applyAdapter(_ dir: String, to loaded: LoadedModel) throws {
    let method = try AdapterFiles.load(dir, into: loaded.model)
    FileHandle.standardError.write(Data("adapter \(dir): \(method.method.rawValue) applied\n".utf8))
}
