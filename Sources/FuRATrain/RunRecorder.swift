import Foundation
import FuRAFormats

/// An event that writes one line of `metrics.jsonl` (steps and evaluations; checkpoints write none).
public protocol RecordableEvent {
    /// The JSON object of the line, with an integer `step`; nil for events that are not recorded.
    var metricsLine: [String: Any]? { get }
}

/// Writes a run's records as training goes, for every kind of run: `metrics.jsonl` (one JSON object per step and
/// per evaluation) and an SVG curve (rewritten atomically, at most about once a second and at the end). What the
/// curve draws and how it is labelled are arguments (`Curve.loss` for SFT, `Curve.reward` for GRPO).
public final class RunRecorder {
    /// Which metrics the curve draws and how it names them.
    public struct Curve: Sendable {
        public var fileName: String
        /// The step lines' key drawn as a line, and the evaluation lines' key drawn as dots.
        public var lineKey: String
        public var dotsKey: String
        public var lineLabel: String
        public var dotsLabel: String
        public var axisLabel: String
        public init(fileName: String, lineKey: String, dotsKey: String, lineLabel: String, dotsLabel: String, axisLabel: String) {
            self.fileName = fileName; self.lineKey = lineKey; self.dotsKey = dotsKey
            self.lineLabel = lineLabel; self.dotsLabel = dotsLabel; self.axisLabel = axisLabel
        }
        /// Training loss per step, validation loss as dots (`loss.svg`).
        public static let loss = Curve(fileName: "loss.svg", lineKey: "loss", dotsKey: "val_loss", lineLabel: "training loss",
                                       dotsLabel: "validation loss", axisLabel: "loss")
        /// Mean reward per step, held-out accuracy as dots (`reward.svg`).
        public static let reward = Curve(fileName: "reward.svg", lineKey: "reward", dotsKey: "eval_accuracy",
                                         lineLabel: "mean reward per step", dotsLabel: "held-out accuracy", axisLabel: "reward")
    }

    public let directory: URL
    public let curve: Curve
    public var metricsURL: URL { directory.appendingPathComponent("metrics.jsonl") }
    public var curveURL: URL { directory.appendingPathComponent(curve.fileName) }
    private var line = [(step: Int, loss: Double)]()
    private var dots = [(step: Int, loss: Double)]()
    private var handle: FileHandle
    private var lastCurve = Date.distantPast

    /// Starts the records. A fresh run (`resumedAtStep` nil) starts empty files; a resumed run keeps the
    /// lines of steps ≤ `resumedAtStep` and drops later ones (they will be produced again).
    public init(directory: URL, resumedAtStep: Int?, curve: Curve = .loss) throws {
        self.directory = directory
        self.curve = curve
        let url = directory.appendingPathComponent("metrics.jsonl")
        var kept = Data()
        if let resumedAtStep, let old = try? String(contentsOf: url, encoding: .utf8) {
            for text in old.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                      let step = object["step"] as? Int, step <= resumedAtStep else { continue }
                kept.append(Data((text + "\n").utf8))
                if let v = object[curve.lineKey] as? Double { line.append((step, v)) }
                if let v = object[curve.dotsKey] as? Double { dots.append((step, v)) }
            }
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            AtomicWrite.removeLeftovers(in: directory.path)
            try AtomicWrite.write(kept, to: url.path)
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch {
            throw TrainingError.writeFailed(path: url.path, reason: ErrorText.file(error))
        }
    }

    deinit { try? handle.close() }

    /// Appends the event's line and refreshes the curve when due.
    public func record(_ event: some RecordableEvent) throws {
        guard let object = event.metricsLine else { return }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        let step = object["step"] as? Int ?? 0
        if let v = object[curve.lineKey] as? Double { line.append((step, v)) }
        if let v = object[curve.dotsKey] as? Double { dots.append((step, v)) }
        do { try handle.write(contentsOf: data + Data("\n".utf8)) } catch {
            throw TrainingError.writeFailed(path: metricsURL.path, reason: ErrorText.file(error))
        }
        if Date().timeIntervalSince(lastCurve) >= 1 { try writeCurve() }
    }

    /// The curve's SVG.
    public var curveSVG: String {
        LossCurveSVG.render(train: line, validation: dots, lineLabel: curve.lineLabel, dotsLabel: curve.dotsLabel, axisLabel: curve.axisLabel)
    }

    /// Rewrites the curve now (atomically).
    public func writeCurve() throws {
        lastCurve = Date()
        do { try AtomicWrite.write(Data(curveSVG.utf8), to: curveURL.path) } catch {
            throw TrainingError.writeFailed(path: curveURL.path, reason: ErrorText.file(error))
        }
    }
}

extension TrainingEvent: RecordableEvent {
    public var metricsLine: [String: Any]? {
        switch self {
        case let .step(m):
            return ["step": m.step, "loss": m.loss, "learning_rate": m.learningRate, "tokens": m.tokens,
                    "tokens_per_second": m.tokensPerSecond, "peak_rss_bytes": m.peakRSSBytes, "grad_norm": m.gradNorm]
        case let .evaluation(step, loss): return ["step": step, "val_loss": loss]
        case .checkpoint: return nil
        }
    }
}

extension GRPOEvent: RecordableEvent {
    public var metricsLine: [String: Any]? {
        switch self {
        case let .step(m): return m.record
        case let .evaluation(step, accuracy, problems): return ["step": step, "eval_accuracy": accuracy, "eval_problems": problems]
        case .checkpoint: return nil
        }
    }
}
