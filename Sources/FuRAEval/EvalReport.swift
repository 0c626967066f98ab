import Foundation
import FuRAFormats

/// One `fura eval` run as it is printed (`--json`) and saved beside a training run (`RUN/eval.json`, which
/// `fura compare` reads): what was evaluated, how, and the scores. The score keys are `EvalSummary`'s
/// (`tasks[i].accuracy`, `average`), so scripts reading either keep working.
public struct EvalReport: Codable, Equatable, Sendable {
    public static let fileName = "eval.json"

    /// The base model as given, and the adapter (nil: the base alone).
    public var model: String?
    public var adapter: String?
    public var `protocol`: String
    /// Questions evaluated per task at most (nil: all).
    public var limit: Int?
    /// Wall-clock seconds of the evaluation (loading included).
    public var seconds: Double
    public var tasks: [TaskResult]
    public var average: Double
    public var averageNorm: Double?

    enum CodingKeys: String, CodingKey {
        case model, adapter, `protocol`, limit, seconds, tasks, average
        case averageNorm = "average_norm"
    }

    public init(model: String?, adapter: String?, protocol evalProtocol: EvalProtocol, limit: Int?, seconds: Double,
                summary: EvalSummary) {
        self.model = model; self.adapter = adapter; self.protocol = evalProtocol.rawValue; self.limit = limit
        self.seconds = seconds; tasks = summary.tasks; average = summary.average; averageNorm = summary.averageNorm
    }

    public var summary: EvalSummary { EvalSummary(tasks: tasks) }

    /// Pretty, key-sorted JSON.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Writes `DIR/eval.json` atomically; returns its path.
    @discardableResult
    public func write(into directory: String) throws -> String {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try AtomicWrite.write(try json(), to: path)
        return path
    }

    /// Reads `DIR/eval.json`; nil when there is none.
    public static func read(from directory: String) throws -> EvalReport? {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(EvalReport.self, from: data) } catch {
            throw EvalDataError.unreadable(file: path, reason: "not a `fura eval` report (\(ErrorText.json(error)))")
        }
    }

    /// The header line naming what was evaluated.
    public var header: String {
        var parts = ["model \(model ?? "(saved completions)")"]
        parts.append("adapter \(adapter ?? "none")")
        parts.append("protocol \(self.protocol)")
        if let limit { parts.append("first \(limit) of each task") }
        return "fura eval: " + parts.joined(separator: ", ")
    }

    /// A table as lm-eval prints it: task, n, metric, value and its standard error (of the mean of 0/1 scores,
    /// √(p(1−p)/(n−1)), as lm-eval), one row per metric, and the unweighted average.
    public var lmEvalTable: String {
        var rows: [[String]] = [["Task", "n", "Metric", "Value", "", "Stderr"]]
        func add(_ task: String, _ n: Int, _ metric: String, _ p: Double) {
            rows.append([task, "\(n)", metric, String(format: "%.4f", p), "±", String(format: "%.4f", Self.standardError(p, n: n))])
        }
        for t in tasks {
            add(t.task, t.n, "acc", t.accuracy)
            if let norm = t.accNorm { add("", t.n, "acc_norm", norm) }
        }
        if tasks.count > 1 {
            rows.append(["average", "\(tasks.map(\.n).reduce(0, +))", "acc", String(format: "%.4f", average), "", ""])
            if let averageNorm { rows.append(["", "", "acc_norm", String(format: "%.4f", averageNorm), "", ""]) }
        }
        let rightAligned: Set<Int> = [1, 3, 5]
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            "|" + row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return " " + (rightAligned.contains(c) ? pad + cell : cell + pad) + " "
            }.joined(separator: "|") + "|"
        }
        let rule = "|" + widths.enumerated().map { c, w in
            rightAligned.contains(c) ? String(repeating: "-", count: w + 1) + ":" : String(repeating: "-", count: w + 2)
        }.joined(separator: "|") + "|"
        return ([line(rows[0]), rule] + rows.dropFirst().map(line)).joined(separator: "\n")
    }

    /// Standard error of a proportion `p` over `n` 0/1 scores with the sample variance (0 when n < 2).
    static func standardError(_ p: Double, n: Int) -> Double {
        n < 2 ? 0 : (p * (1 - p) / Double(n - 1)).squareRoot()
    }
}
