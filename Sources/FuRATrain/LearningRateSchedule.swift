import Foundation

/// The learning-rate schedules of `transformers.get_scheduler`, as a pure function of the step.
///
/// Step k (0-based) of the optimizer uses `peak · factor(k)`, exactly as HF's `LambdaLR`, which is
/// evaluated before the first `scheduler.step()` (so the first step of a warmup has learning rate 0).
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    /// The shape after warmup.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Linear decay to 0 at `totalSteps` (`get_linear_schedule_with_warmup`).
        case linear
        /// Half a cosine to 0 at `totalSteps` (`get_cosine_schedule_with_warmup`, 0.5 cycles).
        case cosine
        /// Constant after warmup (`get_constant_schedule_with_warmup`; no warmup ⇒ `constant`).
        case constant
    }

    /// Warmup given as a step count or as a fraction of the total.
    public enum Warmup: Codable, Equatable, Sendable, CustomStringConvertible {
        case steps(Int)
        case fraction(Double)

        /// The largest warmup step count accepted (larger values are a typo, and would not fit an `Int` conversion).
        static let maximumSteps = 1e9

        /// Parses the reference's `--num_warmup_steps`: a value < 1 is a fraction, else a whole step count.
        public init(parsing text: String) throws {
            guard let value = Double(text), value >= 0, value.isFinite else {
                throw TrainingError.invalidOption(option: "warmup", value: text,
                                                  reason: "expected a step count or a fraction in [0, 1)")
            }
            if value < 1 { self = .fraction(value); return }
            guard value <= Self.maximumSteps else {
                throw TrainingError.invalidOption(option: "warmup", value: text,
                                                  reason: "a step count must be at most \(Int(Self.maximumSteps)) (or a fraction in [0, 1))")
            }
            guard value == value.rounded() else {
                throw TrainingError.invalidOption(option: "warmup", value: text,
                                                  reason: "a value ≥ 1 is a step count and must be whole")
            }
            self = .steps(Int(value))
        }

        /// Warmup steps for a run of `totalSteps`: a fraction gives `int(fraction · total)` (truncation).
        public func steps(totalSteps: Int) -> Int {
            switch self {
            case let .steps(n): return n
            case let .fraction(f): return Int(f * Double(totalSteps))
            }
        }

        public var description: String {
            switch self {
            case let .steps(n): return "\(n)"
            case let .fraction(f): return "\(f)"
            }
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Int.self) { self = n < 1 ? .fraction(Double(n)) : .steps(n); return }
            let value = try c.decode(Double.self)
            self = try Warmup(parsing: "\(value)")
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case let .steps(n): try c.encode(n)
            case let .fraction(f): try c.encode(f)
            }
        }
    }

    public var kind: Kind
    public var peakLearningRate: Double
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(kind: Kind, peakLearningRate: Double, warmup: Warmup, totalSteps: Int) {
        self.kind = kind
        self.peakLearningRate = peakLearningRate
        self.warmupSteps = warmup.steps(totalSteps: totalSteps)
        self.totalSteps = totalSteps
    }

    /// The multiplier of the peak rate at 0-based optimizer step `step`.
    public func factor(at step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        switch kind {
        case .constant:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
        }
    }

    /// The learning rate of 0-based optimizer step `step`.
    public func learningRate(at step: Int) -> Double { peakLearningRate * factor(at: step) }

    /// Whether a run with this schedule may continue a checkpoint written under `checkpointed`: every step both
    /// reach has the same learning rate. A constant schedule (after the same warmup) does not depend on its total,
    /// so such a run may be resumed with more (or fewer) steps; linear and cosine decay toward their total, which
    /// must then be the same.
    public func continues(_ checkpointed: LearningRateSchedule) -> Bool {
        guard kind == checkpointed.kind, peakLearningRate == checkpointed.peakLearningRate,
              warmupSteps == checkpointed.warmupSteps else { return false }
        return kind == .constant || totalSteps == checkpointed.totalSteps
    }

    enum CodingKeys: String, CodingKey {
        case kind, peakLearningRate = "peak_learning_rate", warmupSteps = "warmup_steps", totalSteps = "total_steps"
    }
}
