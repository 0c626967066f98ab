import Foundation
import FuRA
import FuRAModels

/// What every run leaves behind, whatever trains it: `DIR/adapter/` (or, for full fine-tuning, the dense model in
/// `DIR/model/`) at the end, and `checkpoint-N/adapter/` in every checkpoint, so that any saved step can be evaluated,
/// merged or exported (`--adapter DIR` also takes a run directory).
public enum RunResult {
    /// The base model as adapters record it: an absolute path.
    public static func baseModelName(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    /// Writes the run's result into `directory`, then its `summary.json` when given (last, so that a summary means a
    /// finished run); returns the path of the result.
    @discardableResult
    public static func write(_ loaded: LoadedModel, method: any FineTuningMethod, baseModel: String, into directory: String,
                             summary: RunSummary? = nil) throws -> String {
        let url = URL(fileURLWithPath: directory)
        let path: String
        if type(of: method).adapterFormat == .denseModel {
            path = url.appendingPathComponent("model").path
            try MergedModel.write(loaded, to: path)
        } else {
            path = url.appendingPathComponent("adapter").path
            try AdapterFiles.save(loaded.model, method: method.describe(baseModel: baseModelName(baseModel)), to: path)
        }
        try summary?.write(into: directory)
        return path
    }
}

extension TrainingLoop {
    /// Makes every checkpoint hold the adapter of its weights (`checkpoint-N/adapter/`); full fine-tuning keeps none
    /// there (its result is a whole model).
    public func saveAdapters(of method: any FineTuningMethod, baseModel: String) {
        guard type(of: method).adapterFormat != .denseModel else { saveAdapter = nil; return }
        let description = method.describe(baseModel: RunResult.baseModelName(baseModel))
        let model = self.model
        saveAdapter = { url in try AdapterFiles.save(model, method: description, to: url.path) }
    }
}
