import FuRAModels

/// Multiple-choice scoring by log-likelihood: each candidate continuation ("the correct answer is
/// solution1", …) is scored by the sum of its token log-probabilities after the prompt; `acc` takes the
/// best sum, `acc_norm` the best sum per UTF-8 byte of the candidate (lm-evaluation-harness).
///
/// Two paths give the same scores: batched, where every (question, candidate) pair is one sequence,
/// sorted by length and batched `batchSize` at a time (the prompt is recomputed per candidate); and
/// prefix-sharing, one `PrefixScorer` call per `batchSize` questions (each prompt runs once, KV cache reused).
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

    /// Scores every example of a multiple-choice task, batching (question, candidate) sequences through
    /// `scorer`; one record per example, in input order.
    public func evaluate(task: EvalTask, examples: [EvalExample], tokenizer: some EvalTokenizer,
                         scorer: some SequenceScorer, progress: ((Int, Int) -> Void)? = nil) throws -> [EvalRecord] {
        let (requests, prompts) = try prepare(task: task, examples: examples, tokenizer: tokenizer)
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
        return records(task: task, examples: examples, prompts: prompts, scores: scores)
    }

    /// Scores every example through a prefix-sharing scorer (each prompt runs once, see
    /// `PackedModelScorer`), `batchSize` questions per call; same records as the batched path.
    public func evaluate(task: EvalTask, examples: [EvalExample], tokenizer: some EvalTokenizer,
                         prefixScorer: some PrefixScorer, progress: ((Int, Int) -> Void)? = nil) throws -> [EvalRecord] {
        let (requests, prompts) = try prepare(task: task, examples: examples, tokenizer: tokenizer)
        var scores = examples.map { Array(repeating: 0.0, count: $0.choices.count) }
        var byExample = Array(repeating: [Request](), count: examples.count)
        for r in requests { byExample[r.example].append(r) }
        let scoredExamples = byExample.indices.filter { !byExample[$0].isEmpty }
        for start in stride(from: 0, to: scoredExamples.count, by: batchSize) {
            let chunk = scoredExamples[start..<min(start + batchSize, scoredExamples.count)]
            let groups = chunk.map { e in ScoringGroup(context: byExample[e][0].context, continuations: byExample[e].map(\.continuation)) }
            let sums = try prefixScorer.continuationLogLikelihoods(groups: groups)
            guard sums.count == groups.count, zip(sums, groups).allSatisfy({ $0.count == $1.continuations.count }) else {
                throw EvalRunError.scorerShape(expectedRows: groups.count, expectedLength: groups.first?.continuations.count ?? 0,
                                               actualRows: sums.count, actualLengths: sums.map(\.count))
            }
            for (e, row) in zip(chunk, sums) {
                for (request, sum) in zip(byExample[e], row) { scores[e][request.choice] = sum }
            }
            progress?(min(examples.count, (chunk.last ?? 0) + 1), examples.count)
        }
        return records(task: task, examples: examples, prompts: prompts, scores: scores)
    }

    /// The prompts of the examples and one request per (example, candidate).
    func prepare(task: EvalTask, examples: [EvalExample], tokenizer: some EvalTokenizer) throws -> ([Request], [String]) {
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
        return (requests, prompts)
    }

    /// Records from the summed log-likelihoods: `acc` takes the best sum, `acc_norm` the best sum per byte.
    func records(task: EvalTask, examples: [EvalExample], prompts: [String], scores: [[Double]]) -> [EvalRecord] {
        examples.enumerated().map { e, example in
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
    /// with the prompt's tokens (lm-evaluation-harness), else `encode(candidate)` on its own without the
    /// tokens the tokenizer puts before any text (a BOS, i.e. `encode("")`).
    static func continuationTokens(context: [Int], prompt: String, candidate: String, tokenizer: some EvalTokenizer) throws -> [Int] {
        let whole = try tokenizer.encode(prompt + candidate)
        if whole.count > context.count && Array(whole.prefix(context.count)) == context {
            return Array(whole.dropFirst(context.count))
        }
        let lead = try tokenizer.encode("")
        let alone = try tokenizer.encode(candidate)
        return !lead.isEmpty && alone.starts(with: lead) ? Array(alone.dropFirst(lead.count)) : alone
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
