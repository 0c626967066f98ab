import Foundation

/// Where a run's examples come from: `--data FILE` (and `--val-data FILE`), or `--data DIR` in mlx-lm's layout
/// (`DIR/train.jsonl`, and `DIR/valid.jsonl` for validation when present; `test.jsonl` is left for evaluation).
public enum SFTDataFiles {
    /// The training file and the validation file (nil: hold out examples from the training file).
    public static func resolve(data: String, validation: String?) throws -> (train: String, validation: String?) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: data, isDirectory: &isDirectory), isDirectory.boolValue else {
            return (data, validation)
        }
        let directory = URL(fileURLWithPath: data)
        let train = directory.appendingPathComponent("train.jsonl").path
        guard FileManager.default.fileExists(atPath: train) else {
            throw TrainingError.unreadableData(path: data, reason: "a data directory needs train.jsonl (and optionally valid.jsonl), as mlx-lm's; or pass a file")
        }
        let valid = directory.appendingPathComponent("valid.jsonl").path
        return (train, validation ?? (FileManager.default.fileExists(atPath: valid) ? valid : nil))
    }
}
