import FuRAModels

/// Multiple-choice scoring by log-likelihood: each candidate continuation ("the correct answer is
/// solution1", …) is scored by the sum of its token log-probabilities after the prompt; `acc` takes the
/// best sum, `acc_norm` the best sum per UTF-8 byte of the candidate (lm-evaluation-harness).
///
/// Every (question, candidate) pair is one sequence; sequences are sorted by length and batched
/// `batchSize` at a time. The shared prompt is recomputed for each candidate (no prefix KV reuse).
public struct LogLikelihoodEvaluator {
    /// Sequences per call of the scorer.
    public var batchSize: Int
    /// The id that pads sequences to one length (never scored).
    public var padId: Int
    /// Builds the prompt of a question.
    public var prompt: (String) -> String

    public init(batchSize: Int = 16, padId: Int = 0, prompt: @escaping (String) -> String = EvalPrompt.generate) {
        self.batchSize = batchSize
        self.padId = padId
        self.prompt = prompt
    }

    /// Scores every example of a multiple-choice task; one record per example, in input order.
    public func evaluate(task: EvalTask, examples: [EvalExample], tokenizer: some EvalTokenizer,
                         scorer: some SequenceScorer, progress: ((Int, Int) -> Void)? = nil) throws -> [EvalRecord] {
        guard task.supportsLogLikelihood else { throw EvalRunError.notMultipleChoice(task: task.rawValue) }
        guard batchSize > 0 else { throw EvalRunError.invalidOption(name: "batch size", value: "\(batchSize)", expected: "at least 1") }
        var requests: [Request] = []
        var prompts: [String] = []
        for (e, example) in examples.enumerated() {
            let text = prompt(example.instruction)
            prompts.append(text)
            let context = try tokenizer.encode(text)
            guard !context.isEmpty else { throw EvalRunError.emptyContext(task: task.rawValue, index: example.index) }
            for (c, word) in example.choices.enumerated() {
                let candidate = EvalTask.target(answer: word)
                let continuation = try Self.continuationTokens(context: context, prompt: text, candidate: candidate, tokenizer: tokenizer)
                guard !continuation.isEmpty else {
                    throw EvalRunError.emptyContinuation(task: task.rawValue, index: example.index, candidate: candidate)
                }
                requests.append(Request(example: e, choice: c, context: context, continuation: continuation))
            }
        }
        var scores = examples.map { Array(repeating: 0.0, count: $0.choices.count) }
        let order = requests.indices.sorted { requests[$0].length > requests[$1].length }
        var done = 0
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let chunk = order[start..<min(start + batchSize, order.count)].map { requests[$0] }
            let sums = try score(chunk, scorer: scorer)
            for (request, sum) in zip(chunk, sums) { scores[request.example][request.choice] = sum }
            done += chunk.count
            progress?(done, requests.count)
        }
        return examples.enumerated().map { e, example in
            let ll = scores[e]
            let best = Self.argmax(ll)
            let bytes = example.choices.map { Double(EvalTask.target(answer: $0).utf8.count) }
            let bestNorm = Self.argmax(zip(ll, bytes).map { $0 / $1 })
            let chosen = best.map { example.choices[$0] }
            return EvalRecord(task: task.rawValue, index: example.index, prompt: prompts[e],
                              output: chosen.map(EvalTask.target(answer:)) ?? "", extracted: chosen ?? "",
                              gold: example.gold, correct: chosen == example.gold, scores: ll,
                              correctNorm: bestNorm.map { example.choices[$0] } == example.gold)
        }
    }

    /// The tokens of `candidate` after `context`: the tail of `encode(prompt + candidate)` when it starts
    /// with the prompt's tokens (lm-evaluation-harness), else `encode(candidate)` on its own.
    static func continuationTokens(context: [Int], prompt: String, candidate: String, tokenizer: some EvalTokenizer) throws -> [Int] {
        let whole = try tokenizer.encode(prompt + candidate)
        if whole.count > context.count && Array(whole.prefix(context.count)) == context {
            return Array(whole.dropFirst(context.count))
        }
        return try tokenizer.encode(candidate)
    }

    /// Summed continuation log-probabilities of each request, from one call of the scorer.
    func score(_ chunk: [Request], scorer: some SequenceScorer) throws -> [Double] {
        var sequences: [[Int]] = [], targets: [[Int]] = []
        for r in chunk {
            let tokens = r.context + r.continuation
            sequences.append(Array(tokens.dropLast()))
            targets.append((0..<(tokens.count - 1)).map { t in t + 1 >= r.context.count ? tokens[t + 1] : TokenBatch.ignoreIndex })
        }
        let batch = TokenBatch.padded(sequences: sequences, targets: targets, padId: padId)
        let rows = try scorer.labelLogProbabilities(batch)
        guard rows.count == chunk.count, rows.allSatisfy({ $0.count == batch.sequenceLength }) else {
            throw EvalRunError.scorerShape(expectedRows: chunk.count, expectedLength: batch.sequenceLength,
                                           actualRows: rows.count, actualLengths: rows.map(\.count))
        }
        return zip(rows, targets).map { row, target in
            var sum = 0.0
            for (t, label) in target.enumerated() where label != TokenBatch.ignoreIndex { sum += Double(row[t]) }
            return sum
        }
    }

    /// The first index of the largest value (numpy `argmax`), nil when empty.
    static func argmax(_ values: [Double]) -> Int? {
        guard var best = values.indices.first else { return nil }
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    struct Request {
        var example: Int
        var choice: Int
        var context: [Int]
        var continuation: [Int]
        var length: Int { context.count + continuation.count - 1 }
    }
}
