/// One problem of a reinforcement-learning task: the question shown to the model and its gold answer.
public struct RewardExample: Codable, Equatable, Sendable {
    /// The question (`problem` / `question` field).
    public var question: String
    /// The gold answer (already extracted: the content of the last `\boxed{}`, a GSM8K `#### N`, …).
    public var answer: String

    public init(question: String, answer: String) {
        self.question = question
        self.answer = answer
    }
}

/// A scalar reward of one completion (TRL's reward functions): higher is better.
public protocol RewardFunction: Sendable {
    /// The name in metrics (`rewards/<name>`).
    var name: String { get }
    /// The reward of `completion` generated for `prompt` (the full prompt text) on `example`.
    func reward(prompt: String, completion: String, example: RewardExample) -> Double
}

/// Several rewards summed with weights, as TRL does with `reward_weights`: `R = Σ_i w_i · r_i`.
public struct WeightedRewards: Sendable {
    public var functions: [any RewardFunction]
    public var weights: [Double]

    /// `weights` nil gives every function weight 1; otherwise one weight per function.
    public init(_ functions: [any RewardFunction], weights: [Double]? = nil) throws {
        guard !functions.isEmpty else {
            throw TrainingError.invalidOption(option: "rewards", value: "[]", reason: "at least one reward function is needed")
        }
        let weights = weights ?? Array(repeating: 1, count: functions.count)
        guard weights.count == functions.count, weights.allSatisfy(\.isFinite) else {
            throw TrainingError.invalidOption(option: "--reward-weights", value: weights.map { "\($0)" }.joined(separator: ","),
                                              reason: "need \(functions.count) finite weights, one per reward (\(functions.map(\.name).joined(separator: ", ")))")
        }
        self.functions = functions
        self.weights = weights
    }

    /// The weighted sum and each function's own reward (for per-reward metrics).
    public func evaluate(prompt: String, completion: String, example: RewardExample) -> (total: Double, parts: [Double]) {
        let parts = functions.map { $0.reward(prompt: prompt, completion: completion, example: example) }
        return (zip(parts, weights).reduce(0) { $0 + $1.0 * $1.1 }, parts)
    }
}
