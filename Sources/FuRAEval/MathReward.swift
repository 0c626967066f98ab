import FuRATrain

/// The math-correctness reward of Docs/tracks.md §6: 1 when an answer is extracted from the completion and
/// equals the gold answer, else 0.
///
/// `boxed` with the `reference` rule is exactly the reference (`is_equiv` on the last `\boxed{}`);
/// `lastNumber` reads the last number of the completion (a shaping for small models that rarely box).
public struct MathCorrectnessReward: RewardFunction {
    public var mode: MathAnswer.Mode
    public var rule: MathAnswer.Rule

    public init(mode: MathAnswer.Mode = .boxed, rule: MathAnswer.Rule? = nil) {
        self.mode = mode
        self.rule = rule ?? (mode == .boxed ? .reference : MathAnswer.defaultRule(for: mode))
    }

    public var name: String { mode == .boxed ? "accuracy_boxed" : "accuracy_last_number" }

    public func reward(prompt: String, completion: String, example: RewardExample) -> Double {
        MathAnswer.reward(completion: completion, gold: example.answer, mode: mode, rule: rule)
    }
}

/// A format reward: 1 when the completion holds a well-formed `\boxed{…}` (balanced braces, non-empty
/// content), else 0 — a shaping term that teaches the answer format the correctness reward reads.
public struct BoxedFormatReward: RewardFunction {
    public init() {}

    public var name: String { "format_boxed" }

    public func reward(prompt: String, completion: String, example: RewardExample) -> Double {
        guard let boxed = MathAnswer.lastBoxedOnlyString(completion), boxed.hasPrefix("\\boxed{"),
              let content = MathAnswer.removeBoxed(boxed), !content.trimmingWhitespace.isEmpty else { return 0 }
        return 1
    }
}
