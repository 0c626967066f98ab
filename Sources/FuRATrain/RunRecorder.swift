import Foundation

/// Writes the run's records as training goes: `metrics.jsonl` (one JSON object per step and per
/// evaluation) and `loss.svg` (rewritten atomically, at most about once a second and at the end).
public final class RunRecorder {
    /// One line of `metrics.jsonl` for a step.
    struct StepLine: Encodable {
        var step: Int, loss: Double, learning_rate: Double, tokens: Int, tokens_per_second: Double
        var peak_rss_bytes: Int, grad_norm: Double
    }
    /// One line for an evaluation.
    struct EvaluationLine: Encodable {
        var step: Int, val_loss: Double
    }

    public let directory: URL
    public var metricsURL: URL { directory.appendingPathComponent("metrics.jsonl") }
    public var curveURL: URL { directory.appendingPathComponent("loss.svg") }
    private var train = [(step: Int, loss: Double)]()
    private var validation = [(step: Int, loss: Double)]()
    private var handle: FileHandle
    private var lastCurve = Date.distantPast
    private let encoder: JSONEncoder

    /// Starts the records. A fresh run (`resumedAtStep` nil) starts empty files; a resumed run keeps the
    /// lines of steps ≤ `resumedAtStep` and drops later ones (they will be produced again).
    public init(directory: URL, resumedAtStep: Int?) throws {
        self.directory = directory
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let url = directory.appendingPathComponent("metrics.jsonl")
        var kept = Data()
        if let resumedAtStep, let old = try? String(contentsOf: url, encoding: .utf8) {
            for line in old.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let step = object["step"] as? Int, step <= resumedAtStep else { continue }
                kept.append(Data((line + "\n").utf8))
                if let loss = object["loss"] as? Double { train.append((step, loss)) }
                if let loss = object["val_loss"] as? Double { validation.append((step, loss)) }
            }
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try kept.write(to: url, options: .atomic)
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw TrainingError.writeFailed(path: url.path, reason: "\(error)")
        }
    }

    deinit { try? handle.close() }

    /// Appends the event's line and refreshes the curve when due.
    public func record(_ event: TrainingEvent) throws {
        let data: Data
        switch event {
        case let .step(m):
            data = try encoder.encode(StepLine(step: m.step, loss: m.loss, learning_rate: m.learningRate, tokens: m.tokens,
                                               tokens_per_second: m.tokensPerSecond, peak_rss_bytes: m.peakRSSBytes, grad_norm: m.gradNorm))
            train.append((m.step, m.loss))
        case let .evaluation(step, loss):
            data = try encoder.encode(EvaluationLine(step: step, val_loss: loss))
            validation.append((step, loss))
        case .checkpoint:
            return
        }
        do { try handle.write(contentsOf: data + Data("\n".utf8)) } catch {
            throw TrainingError.writeFailed(path: metricsURL.path, reason: "\(error)")
        }
        if Date().timeIntervalSince(lastCurve) >= 1 { try writeCurve() }
    }

    /// Rewrites `loss.svg` now (atomically).
    public func writeCurve() throws {
        lastCurve = Date()
        let svg = LossCurveSVG.render(train: train, validation: validation)
        do { try Data(svg.utf8).write(to: curveURL, options: .atomic) } catch {
            throw TrainingError.writeFailed(path: curveURL.path, reason: "\(error)")
        }
    }
}
