import FuRAModels

/// How a suite is scored.
public enum EvalProtocol: String, CaseIterable, Sendable, Codable {
    /// Generate an answer (beam search in the reference), extract it, compare with the gold (Docs/tracks.md §3).
    case generate
    /// Score every candidate continuation by its log-likelihood and pick the best (lm-evaluation-harness style).
    case loglikelihood
}

/// Turns text into the token ids of the model under evaluation (BOS handling is the tokenizer's).
public protocol EvalTokenizer {
    func encode(_ text: String) throws -> [Int]
}

/// Log-probabilities of the labels of a token batch; a `LanguageModel` provides them through `ModelScorer`.
public protocol SequenceScorer {
    /// B rows of T values: `log p(labels[b][t])` at every labelled position, 0 where the label is ignored.
    func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]]
}

/// One question to score: its prompt tokens and each candidate's tokens after the prompt.
public struct ScoringGroup: Sendable, Equatable {
    public var context: [Int]
    public var continuations: [[Int]]

    public init(context: [Int], continuations: [[Int]]) {
        self.context = context
        self.continuations = continuations
    }
}

/// Scores the candidates of one question against one shared prompt.
public protocol PrefixScorer {
    /// The summed log-probability of each continuation's tokens after `context` (both non-empty).
    func continuationLogLikelihoods(context: [Int], continuations: [[Int]]) throws -> [Double]
    /// The summed log-probabilities of many questions' candidates (same order); a scorer that can
    /// share work across questions overrides the default, which scores them one at a time.
    func continuationLogLikelihoods(groups: [ScoringGroup]) throws -> [[Double]]
}

extension PrefixScorer {
    public func continuationLogLikelihoods(groups: [ScoringGroup]) throws -> [[Double]] {
        try groups.map { try continuationLogLikelihoods(context: $0.context, continuations: $0.continuations) }
    }
}

/// Text generation for the generate protocol (the generation room implements it with a KV cache and
/// beam search).
public protocol TextGenerator {
    /// One completion per prompt: only the new text, without the prompt.
    func generate(prompts: [String], maxNewTokens: Int, numBeams: Int) throws -> [String]
}

/// A `SequenceScorer` backed by a causal language model.
public struct ModelScorer: SequenceScorer {
    public let model: any LanguageModel

    public init(model: any LanguageModel) { self.model = model }

    public func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]] {
        try model.labelLogProbabilities(batch)
    }
}

/// Why an evaluation run stopped.
public enum EvalRunError: Error, Equatable, CustomStringConvertible {
    case scorerShape(expectedRows: Int, expectedLength: Int, actualRows: Int, actualLengths: [Int])
    case generatorCount(expected: Int, actual: Int)
    case emptyContext(task: String, index: Int)
    case emptyContinuation(task: String, index: Int, candidate: String)
    case notMultipleChoice(task: String)
    case invalidOption(name: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .scorerShape(rows, length, actualRows, lengths):
            "the scorer returned \(actualRows) rows of lengths \(lengths.prefix(4))…, expected \(rows) rows of \(length) log-probabilities."
        case let .generatorCount(expected, actual):
            "the generator returned \(actual) completions for \(expected) prompts."
        case let .emptyContext(task, index):
            "\(task) record \(index): the prompt encodes to no tokens, so the first answer token has no context."
        case let .emptyContinuation(task, index, candidate):
            "\(task) record \(index): the candidate \"\(candidate)\" encodes to no tokens after the prompt."
        case let .notMultipleChoice(task):
            "task \(task) has no \"the correct answer is X\" targets, so it cannot be scored by log-likelihood; use --protocol generate."
        case let .invalidOption(name, value, expected):
            "\(name) is \(value), expected \(expected)."
        }
    }
}
