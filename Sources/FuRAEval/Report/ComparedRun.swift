import Foundation
import FuRA
import FuRATrain

/// One run directory as `fura compare` sees it: its settings (`config.json`), its summary (`summary.json`), its
/// curve (`metrics.jsonl`) and its evaluation (`eval.json`). Every file but one is optional: a directory holding only
/// `eval.json` (e.g. `fura eval --model M --run-dir base`) is the base model's row.
public struct ComparedRun {
    public var name: String
    public var directory: String
    /// The method (`base` for a directory without `config.json`).
    public var method: String
    /// The method's settings that were set, and the run's recipe (lr, batch, steps), as display strings.
    public var settings: [(key: String, value: String)]
    public var summary: RunSummary?
    /// Training loss (or reward) per step, and validation loss (or held-out accuracy) per evaluation.
    public var curve: [(step: Int, loss: Double)]
    public var validation: [(step: Int, loss: Double)]
    /// Trained tokens per second over all steps (tokens / summed step time), and the largest peak RSS recorded.
    public var tokensPerSecond: Double?
    public var peakRSSBytes: Int?
    public var eval: EvalReport?

    /// Run-level keys of `config.json` shown beside the method's own settings.
    static let recipeKeys = ["lr", "batch_size", "grad_accum", "epochs", "iters", "steps", "max_seq_len", "schedule", "warmup",
                             "weight_decay", "max_grad_norm", "prompts_per_step", "group_size"]

    /// Reads `directory`; fails with one line when it holds none of the run files, or one of them is unreadable.
    public init(directory: String) throws {
        let url = URL(fileURLWithPath: directory)
        self.directory = directory
        name = url.standardizedFileURL.lastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ReportError.notARun(path: directory, reason: "is not a directory")
        }
        let config = try Self.jsonObject(url.appendingPathComponent("config.json"))
        summary = try RunSummary.read(from: directory)
        eval = try EvalReport.read(from: directory)
        method = (config?["method"] as? String) ?? summary?.method ?? "base"
        settings = []
        if let config {
            for key in MethodSettings.keys + Self.recipeKeys {
                guard let value = config[key], !(value is NSNull) else { continue }
                settings.append((key, Self.display(value)))
            }
        }
        curve = []; validation = []
        let (lineKey, dotsKey) = summary?.kind == "grpo" || config?["group_size"] != nil ? ("reward", "eval_accuracy") : ("loss", "val_loss")
        var tokens = 0.0, seconds = 0.0, peak = 0
        let metrics = url.appendingPathComponent("metrics.jsonl")
        if let text = try? String(contentsOf: metrics, encoding: .utf8) {
            for (number, line) in text.split(separator: "\n").enumerated() {
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                    throw ReportError.notARun(path: metrics.path, reason: "line \(number + 1) is not a JSON object")
                }
                guard let step = object["step"] as? Int else { continue }
                if let v = (object[lineKey] as? NSNumber)?.doubleValue { curve.append((step, v)) }
                if let v = (object[dotsKey] as? NSNumber)?.doubleValue { validation.append((step, v)) }
                if let n = (object["tokens"] as? NSNumber)?.doubleValue, let rate = (object["tokens_per_second"] as? NSNumber)?.doubleValue,
                   rate > 0 {
                    tokens += n; seconds += n / rate
                }
                if let p = object["peak_rss_bytes"] as? Int { peak = max(peak, p) }
            }
        }
        tokensPerSecond = seconds > 0 ? tokens / seconds : nil
        peak = max(peak, summary?.peakRSSBytes ?? 0)
        peakRSSBytes = peak > 0 ? peak : nil
        guard config != nil || eval != nil || summary != nil else {
            throw ReportError.notARun(path: directory, reason: "holds no config.json, summary.json or eval.json "
                + "(give a `fura train`/`grpo --output` directory, or one `fura eval --run-dir` wrote)")
        }
    }

    static func jsonObject(_ url: URL) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ReportError.notARun(path: url.path, reason: "is not a JSON object")
        }
        return object
    }

    static func display(_ value: Any) -> String {
        if let array = value as? [Any] { return array.map(display).joined(separator: ",") }
        if let number = value as? NSNumber {
            if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
            let d = number.doubleValue
            return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(format: "%g", d)
        }
        return "\(value)"
    }
}

/// Why a directory cannot be compared.
public enum ReportError: Error, CustomStringConvertible {
    case notARun(path: String, reason: String)
    case noRuns

    public var description: String {
        switch self {
        case let .notARun(path, reason): "\(path) \(reason)."
        case .noRuns: "no run directories given; pass one or more `fura train --output` directories."
        }
    }
}
