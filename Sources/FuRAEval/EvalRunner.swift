/// One suite to evaluate: a task and its questions.
public struct EvalSuite: Sendable {
    public var task: EvalTask
    public var examples: [EvalExample]

    public init(task: EvalTask, examples: [EvalExample]) {
        self.task = task
        self.examples = examples
    }
}

/// What the protocols run on: a tokenizer and a scorer for log-likelihood (the prefix scorer is used
/// when present), a generator for generate.
public struct EvalBackends {
    public var tokenizer: (any EvalTokenizer)?
    public var scorer: (any SequenceScorer)?
    public var prefixScorer: (any PrefixScorer)?
    public var generator: (any TextGenerator)?
    public var padId: Int

    public init(tokenizer: (any EvalTokenizer)? = nil, scorer: (any SequenceScorer)? = nil, prefixScorer: (any PrefixScorer)? = nil,
                generator: (any TextGenerator)? = nil, padId: Int = 0) {
        self.tokenizer = tokenizer
        self.scorer = scorer
        self.prefixScorer = prefixScorer
        self.generator = generator
        self.padId = padId
    }
}

/// Progress of a run: task, questions (or sequences) done, total.
public struct EvalProgress: Sendable {
    public var task: EvalTask
    public var done: Int
    public var total: Int
}

/// Runs several suites under one protocol and gathers the scores and the per-question records.
public struct EvalRunner {
    public var evalProtocol: EvalProtocol
    /// At most this many questions per suite (the first ones), all when nil.
    public var limit: Int?
    /// Sequences per scorer call (log-likelihood) or prompts per generator call (generate).
    public var batchSize: Int
    public var maxNewTokens: Int
    public var numBeams: Int

    public init(evalProtocol: EvalProtocol, limit: Int? = nil, batchSize: Int = 16, maxNewTokens: Int = 256, numBeams: Int = 4) {
        self.evalProtocol = evalProtocol
        self.limit = limit
        self.batchSize = batchSize
        self.maxNewTokens = maxNewTokens
        self.numBeams = numBeams
    }

    /// Checks the options and that `backends` has what the protocol needs for every suite.
    public func validate(suites: [EvalSuite], backends: EvalBackends) throws {
        guard batchSize > 0 else { throw EvalRunError.invalidOption(name: "--batch-size", value: "\(batchSize)", expected: "at least 1") }
        if let limit, limit < 1 { throw EvalRunError.invalidOption(name: "--limit", value: "\(limit)", expected: "at least 1") }
        guard maxNewTokens > 0 else { throw EvalRunError.invalidOption(name: "--max-new-tokens", value: "\(maxNewTokens)", expected: "at least 1") }
        guard numBeams > 0 else { throw EvalRunError.invalidOption(name: "--num-beams", value: "\(numBeams)", expected: "at least 1") }
        switch evalProtocol {
        case .loglikelihood:
            if let math = suites.first(where: { !$0.task.supportsLogLikelihood }) {
                throw EvalRunError.notMultipleChoice(task: math.task.rawValue)
            }
            guard backends.tokenizer != nil, backends.scorer != nil || backends.prefixScorer != nil else {
                throw EvalRunError.invalidOption(name: "--protocol", value: "loglikelihood", expected: "a model to score with (give --model)")
            }
        case .generate:
            guard backends.generator != nil else {
                throw EvalRunError.invalidOption(name: "--protocol", value: "generate", expected: "a text generator (give --model or --completions)")
            }
        }
    }

    /// Evaluates every suite in order.
    public func run(suites: [EvalSuite], backends: EvalBackends,
                    progress: ((EvalProgress) -> Void)? = nil) throws -> (summary: EvalSummary, records: [EvalRecord]) {
        try validate(suites: suites, backends: backends)
        var results: [TaskResult] = []
        var records: [EvalRecord] = []
        for suite in suites {
            let examples = limit.map { Array(suite.examples.prefix($0)) } ?? suite.examples
            let report: (Int, Int) -> Void = { done, total in progress?(EvalProgress(task: suite.task, done: done, total: total)) }
            report(0, examples.count)
            let taskRecords: [EvalRecord]
            switch evalProtocol {
            case .loglikelihood:
                guard let tokenizer = backends.tokenizer else { continue }
                let evaluator = LogLikelihoodEvaluator(batchSize: batchSize, padId: backends.padId)
                if let prefixScorer = backends.prefixScorer {
                    taskRecords = try evaluator.evaluate(task: suite.task, examples: examples, tokenizer: tokenizer,
                                                         prefixScorer: prefixScorer, progress: report)
                } else if let scorer = backends.scorer {
                    taskRecords = try evaluator.evaluate(task: suite.task, examples: examples, tokenizer: tokenizer, scorer: scorer, progress: report)
                } else { continue }
            case .generate:
                guard let generator = backends.generator else { continue }
                taskRecords = try GenerateEvaluator(maxNewTokens: maxNewTokens, numBeams: numBeams, batchSize: batchSize)
                    .evaluate(task: suite.task, examples: examples, generator: generator, progress: report)
            }
            results.append(TaskResult(task: suite.task, protocol: evalProtocol, records: taskRecords))
            records += taskRecords
        }
        return (EvalSummary(tasks: results), records)
    }
}

/// A generator that replays completions produced elsewhere, in order (grading saved outputs).
public final class ReplayGenerator: TextGenerator {
    public private(set) var completions: [String]
    private var cursor = 0

    public init(completions: [String]) { self.completions = completions }

    public func generate(prompts: [String], maxNewTokens: Int, numBeams: Int) throws -> [String] {
        let end = min(cursor + prompts.count, completions.count)
        let out = Array(completions[cursor..<end])
        cursor = end
        return out
    }
}
