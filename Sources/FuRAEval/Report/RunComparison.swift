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

    /// Header and rows of the per-suite table: one row per task and one for the average; a column of accuracy (×100)
    /// per run, then, for every run after the first, its difference to the first in points. With a base row and one
    /// trained run this is the demo's table (suite, n, base, FuRA, Δ).
    var suiteRows: (header: [String], rows: [[String]]) {
        let first = runs[0]
        let others = runs.dropFirst().map(\.name)
        func accuracies(_ run: ComparedRun) -> [String: TaskResult] {
            Dictionary((run.eval?.tasks ?? []).map { ($0.task, $0) }, uniquingKeysWith: { a, _ in a })
        }
        let byRun = runs.map(accuracies)
        func difference(_ a: Double?, _ b: Double?) -> String {
            guard let a, let b else { return "—" }
            return String(format: "%+.1f", (a - b) * 100)
        }
        var rows: [[String]] = tasks.map { task in
            let ns = Set(byRun.compactMap { $0[task]?.n })
            let n = ns.count == 1 ? String(ns.first!) : ns.isEmpty ? "—" : ns.sorted().map(String.init).joined(separator: "/")
            let values = byRun.map { $0[task]?.accuracy }
            return [EvalTask(name: task)?.displayName ?? task, n] + values.map(Self.percent)
                + values.dropFirst().map { difference($0, values[0]) }
        }
        let averages = runs.map { $0.eval?.average }
        rows.append(["Average", ""] + averages.map(Self.percent) + averages.dropFirst().map { difference($0, averages[0]) })
        return (["suite", "n"] + runs.map(\.name) + others.map { "Δ \($0) − \(first.name)" }, rows)
    }

    /// Columns of text (left-aligned); the others are figures.
    static let textColumns: Set<String> = ["run", "method", "settings", "suite"]

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
            let s = suiteRows
            out += "\n## By suite\n\n" + table(s.header, s.rows) + "\n"
        }
        return out
    }
}
