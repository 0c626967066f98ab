import Foundation

/// Writes a GRPO run's records: `metrics.jsonl` (one object per step and per evaluation) and `reward.svg`
/// (mean reward per step as a line, held-out accuracy as dots), both rewritten atomically.
public final class GRPORecorder {
    public let directory: URL
    public var metricsURL: URL { directory.appendingPathComponent("metrics.jsonl") }
    public var curveURL: URL { directory.appendingPathComponent("reward.svg") }
    private var lines: [String] = []
    private var rewards = [(step: Int, loss: Double)]()
    private var accuracies = [(step: Int, loss: Double)]()

    /// A fresh run starts empty; a resumed run keeps the lines of steps ≤ `resumedAtStep`.
    public init(directory: URL, resumedAtStep: Int?) throws {
        self.directory = directory
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw TrainingError.writeFailed(path: directory.path, reason: "\(error)")
        }
        if let resumedAtStep, let old = try? String(contentsOf: metricsURL, encoding: .utf8) {
            for line in old.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let step = object["step"] as? Int, step <= resumedAtStep else { continue }
                lines.append(String(line))
                if let r = object["reward"] as? Double { rewards.append((step, r)) }
                if let a = object["eval_accuracy"] as? Double { accuracies.append((step, a)) }
            }
        }
    }

    /// Appends the event's line and rewrites both files.
    public func record(_ event: GRPOEvent) throws {
        let object: [String: Any]
        switch event {
        case let .step(m):
            object = m.record
            rewards.append((m.step, m.reward))
        case let .evaluation(step, accuracy, problems):
            object = ["step": step, "eval_accuracy": accuracy, "eval_problems": problems]
            accuracies.append((step, accuracy))
        case .checkpoint:
            return
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        lines.append(String(decoding: data, as: UTF8.self))
        try write(Data((lines.joined(separator: "\n") + "\n").utf8), to: metricsURL)
        try write(Data(curve.utf8), to: curveURL)
    }

    /// The SVG of the reward curve (the loss-curve renderer of the SFT loop, relabelled).
    public var curve: String {
        LossCurveSVG.render(train: rewards, validation: accuracies)
            .replacingOccurrences(of: ">training loss (line) and validation loss (dots)<", with: ">mean reward (line) and held-out accuracy (dots)<")
            .replacingOccurrences(of: ">training loss<", with: ">mean reward per step<")
    }

    private func write(_ data: Data, to url: URL) throws {
        do { try data.write(to: url, options: .atomic) } catch { throw TrainingError.writeFailed(path: url.path, reason: "\(error)") }
    }
}
