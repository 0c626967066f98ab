import Foundation
import FuRATrain

/// Runs side by side (`fura compare`): the figures of each run and the evaluation table, as Markdown or as one
/// self-contained HTML page (inline SVG, no scripts).
public struct RunComparison {
    public var runs: [ComparedRun]

    public init(runs: [ComparedRun]) throws {
        guard !runs.isEmpty else { throw ReportError.noRuns }
        self.runs = runs
    }

    /// The evaluated tasks, in the order of the first run that evaluated each.
    public var tasks: [String] {
        var seen: [String] = []
        for run in runs { for t in run.eval?.tasks ?? [] where !seen.contains(t.task) { seen.append(t.task) } }
        return seen
    }

    /// How the runs were evaluated ("loglikelihood, first 100 of each task"), or the distinct settings when they differ.
    public var evalSetting: String {
        let settings = Set(runs.compactMap(\.eval).map { e in e.protocol + (e.limit.map { ", first \($0) of each task" } ?? "") })
        return settings.sorted().joined(separator: " / ")
    }

    // MARK: Cells shared by both formats

    static func count(_ n: Int?) -> String { n.map { $0.formatted() } ?? "—" }
    static func rate(_ r: Double?) -> String { r.map { String(format: "%.0f", $0) } ?? "—" }
    static func memory(_ bytes: Int?) -> String { bytes.map { String(format: "%.2f GB", Double($0) / 1e9) } ?? "—" }
    static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "—" }
        return seconds < 120 ? String(format: "%.0f s", seconds) : String(format: "%d min %02d s", Int(seconds) / 60, Int(seconds) % 60)
    }
    static func percent(_ x: Double?) -> String { x.map { EvalSummary.percent($0) } ?? "—" }

    /// Header and rows of the runs table.
    var runRows: (header: [String], rows: [[String]]) {
        (["run", "method", "settings", "trainable parameters", "steps", "tokens/s", "peak RSS", "wall time"],
         runs.map { run in
             [run.name, run.method, run.settings.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
              Self.count(run.summary?.trainableParameters), Self.count(run.summary?.steps ?? run.curve.last?.step),
              Self.rate(run.tokensPerSecond), Self.memory(run.peakRSSBytes), Self.duration(run.summary?.wallSeconds)]
         })
    }

    /// Header and rows of the evaluation table (accuracy ×100 per task, the average, and its difference to the first run).
    var evalRows: (header: [String], rows: [[String]]) {
        let tasks = self.tasks
        let names = tasks.map { EvalTask(name: $0)?.displayName ?? $0 }
        let first = runs.first?.eval?.average
        return (["run"] + names + ["Avg", "Δ Avg"], runs.map { run in
            let byTask = Dictionary((run.eval?.tasks ?? []).map { ($0.task, $0.accuracy) }, uniquingKeysWith: { a, _ in a })
            let delta: String
            if let a = run.eval?.average, let first { delta = String(format: "%+.1f", (a - first) * 100) } else { delta = "—" }
            return [run.name] + tasks.map { Self.percent(byTask[$0]) } + [Self.percent(run.eval?.average), delta]
        })
    }

    /// Columns of text (left-aligned); the others are figures.
    static let textColumns: Set<String> = ["run", "method", "settings"]

    // MARK: Markdown

    public func markdown() -> String {
        func table(_ header: [String], _ rows: [[String]]) -> String {
            let rule = header.map { Self.textColumns.contains($0) ? "---" : "---:" }
            return ([header, rule] + rows).map { "| " + $0.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
                .joined(separator: "\n")
        }
        var out = "# Runs compared\n\n"
        let r = runRows
        out += table(r.header, r.rows) + "\n"
        if !tasks.isEmpty {
            let e = evalRows
            out += "\n## Accuracy (%), \(evalSetting)\n\n" + table(e.header, e.rows) + "\n"
            out += "\nΔ Avg is each run's average minus the first run's (\(runs[0].name)), in points.\n"
        }
        return out
    }
}
