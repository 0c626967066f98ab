import Foundation
import FuRAFormats

/// What a finished run was, in one small file (`DIR/summary.json`): the method, how many parameters trained, how
/// long the command took and how much memory it held. `fura compare` reads it beside `config.json` and
/// `metrics.jsonl`; the per-step figures (loss, tokens/s) stay in `metrics.jsonl`.
public struct RunSummary: Codable, Equatable, Sendable {
    public static let fileName = "summary.json"

    /// `sft` or `grpo`.
    public var kind: String
    public var method: String
    public var baseModel: String
    public var trainableParameters: Int
    /// Optimizer steps of the whole run (resumed runs included).
    public var steps: Int
    /// Seconds from the command's start to the result written (loading and conversion included); for a resumed run,
    /// only the last process's.
    public var wallSeconds: Double
    /// Peak resident set size of the process that finished the run (rank 0's alone under mpirun), bytes.
    public var peakRSSBytes: Int
    /// The processes that shared each step under mpirun (nil: one).
    public var processes: Int?

    enum CodingKeys: String, CodingKey {
        case kind, method, baseModel = "base_model", trainableParameters = "trainable_parameters", steps
        case wallSeconds = "wall_seconds", peakRSSBytes = "peak_rss_bytes", processes
    }

    public init(kind: String, method: String, baseModel: String, trainableParameters: Int, steps: Int,
                wallSeconds: Double, peakRSSBytes: Int = ProcessMemory.peakResidentBytes, processes: Int = 1) {
        self.kind = kind; self.method = method; self.baseModel = baseModel
        self.trainableParameters = trainableParameters; self.steps = steps
        self.wallSeconds = wallSeconds; self.peakRSSBytes = peakRSSBytes; self.processes = processes > 1 ? processes : nil
    }

    /// Writes `DIR/summary.json` atomically.
    public func write(into directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let path = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path
        do { try AtomicWrite.write(try encoder.encode(self), to: path) } catch {
            throw TrainingError.writeFailed(path: path, reason: ErrorText.file(error))
        }
    }

    /// Reads `DIR/summary.json`; nil when the run has none (it did not finish, or an older `fura` wrote it).
    public static func read(from directory: String) throws -> RunSummary? {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do { return try JSONDecoder().decode(RunSummary.self, from: data) } catch {
            throw TrainingError.unreadableData(path: url.path, reason: "not a run summary (\(ErrorText.json(error)))")
        }
    }
}
