import Foundation

/// What the training loop reports; the library never prints, the caller decides.
public enum TrainingEvent: Sendable {
    case step(StepMetrics)
    case evaluation(step: Int, validationLoss: Double)
    case checkpoint(step: Int, path: String)
}

/// The figures of one optimizer step.
public struct StepMetrics: Codable, Equatable, Sendable {
    /// 1-based optimizer step just completed.
    public var step: Int
    public var totalSteps: Int
    public var loss: Double
    public var learningRate: Double
    /// Non-padding tokens of the step.
    public var tokens: Int
    public var tokensPerSecond: Double
    /// Gradient norm before clipping.
    public var gradNorm: Double
    /// Peak resident set size of the process so far (`VmHWM`), bytes.
    public var peakRSSBytes: Int
    /// Seconds the step took.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case step, totalSteps = "total_steps", loss, learningRate = "learning_rate", tokens
        case tokensPerSecond = "tokens_per_second", gradNorm = "grad_norm", peakRSSBytes = "peak_rss_bytes", seconds
    }
}

/// Reads the process's peak and current memory from `/proc/self/status`.
public enum ProcessMemory {
    /// Peak resident set size (`VmHWM`) in bytes, or 0 where `/proc` is unavailable.
    public static var peakResidentBytes: Int { field("VmHWM") }
    /// Current resident set size (`VmRSS`) in bytes, or 0.
    public static var residentBytes: Int { field("VmRSS") }

    static func field(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.count >= 2, let kilobytes = Int(parts[1]) { return kilobytes * 1024 }
        }
        return 0
    }
}
