import Foundation

/// The progress line of `fura eval`: questions done, questions per second and the time left of
/// the current task, timed from the task's first report (the runner reports 0 done at a task's start).
public struct EvalRate {
    var task: EvalTask?
    var start = 0.0

    public init() {}

    /// "boolq: 320/3270  11.2 q/s  ETA 4m23s" (rate and ETA once a first batch has been timed).
    public mutating func line(_ p: EvalProgress, now: Double) -> String {
        if task != p.task { task = p.task; start = now }
        var line = "\(p.task.rawValue): \(p.done)/\(p.total)"
        let elapsed = now - start
        if elapsed > 0, p.done > 0 {
            let perSecond = Double(p.done) / elapsed
            line += String(format: "  %.2f q/s", perSecond) + "  ETA " + Self.duration(Double(p.total - p.done) / perSecond)
        }
        return line
    }

    /// "1h02m", "4m23s" or "17s".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
