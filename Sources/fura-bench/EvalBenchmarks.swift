import FuRAEval
import FuRAModels
import FuRATensor

extension Benchmarks {
    /// Answer grading (MATH normalization + equivalence, commonsense first match), log-likelihood
    /// scoring of a small random model (batched full sequences vs the packed prefix-sharing scorer),
    /// and 4-beam search of 8 prompts one by one vs batched.
    static let eval = Benchmark(name: "eval") {
        var out: [BenchmarkResult] = []
        let completions = (0..<2000).map { i in
            "Step \(i): we get x = \\frac{\(i % 7 + 1)}{\(i % 5 + 2)} so the answer is $\\boxed{\\dfrac{\(i % 7 + 1)}{\(i % 5 + 2)}}$. "
                + String(repeating: "More words and 12 numbers. ", count: 8)
        }
        let boxed = bestTime(repeats: 3) {
            for (i, c) in completions.enumerated() { _ = MathAnswer.reward(completion: c, gold: "\(Double(i % 7 + 1) / Double(i % 5 + 2))", rule: .referenceOrNumeric) }
        }
        out.append(BenchmarkResult(name: "eval grade boxed (2000 completions)", threads: 1, seconds: boxed,
                                   extra: ["per_second": Double(completions.count) / boxed]))
        let matched = bestTime(repeats: 3) {
            for c in completions { _ = AnswerExtraction.firstMatch(in: c + " answer3", vocabulary: EvalTask.arcEasy.vocabulary) }
        }
        out.append(BenchmarkResult(name: "eval first match (2000 completions)", threads: 1, seconds: matched,
                                   extra: ["per_second": Double(completions.count) / matched]))

        let config = ModelConfig(hiddenSize: 256, intermediateSize: 640, numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 2,
                                 vocabSize: 2048, rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 512,
                                 tieWordEmbeddings: true, attentionBias: false, qkNorm: false)
        guard let model = try? CausalLM.random(config: config, seed: 1) else { return out }
        struct ByteTokenizer: EvalTokenizer {
            func encode(_ text: String) throws -> [Int] { encodeBytes(text) }
            func encodeBytes(_ text: String) -> [Int] { text.utf8.map { Int($0) } }
        }
        let examples = (0..<16).map { i in
            EvalExample(index: i, instruction: "Please answer the following question with true or false, question: is \(i) even?\n\nAnswer format: true/false",
                        gold: i % 2 == 0 ? "true" : "false", choices: ["true", "false"])
        }
        for threads in [1, 2] {
            Threading.setThreadCount(threads)
            var tokens = 0
            let evaluator = LogLikelihoodEvaluator(batchSize: 8)
            let t = bestTime(repeats: 2) {
                tokens = 0
                let scorer = CountingScorer(model: model)
                _ = try? evaluator.evaluate(task: .boolq, examples: examples, tokenizer: ByteTokenizer(), scorer: scorer)
                tokens = scorer.tokens
            }
            out.append(BenchmarkResult(name: "eval loglikelihood 32 seqs (C=256, L=4)", threads: threads, seconds: t,
                                       tokensPerSecond: Double(tokens) / t))
            // The packed prefix-sharing path over the same 16 questions, all in one call.
            guard let packedScorer = try? PackedModelScorer(model: model) else { return out }
            let packed = bestTime(repeats: 2) {
                _ = try? LogLikelihoodEvaluator(batchSize: 16).evaluate(task: .boolq, examples: examples, tokenizer: ByteTokenizer(), prefixScorer: packedScorer)
            }
            out.append(BenchmarkResult(name: "eval loglikelihood packed 16 q (C=256, L=4)", threads: threads, seconds: packed,
                                       extra: ["questions_per_second": Double(examples.count) / packed]))
            // Beam search (4 beams, 16 new tokens) of 8 prompts: one prompt at a time vs all together.
            guard let engine = try? GenerationModel(model: model), let search = try? BeamSearch(model: engine, beams: 4) else { return out }
            let prompts = examples.prefix(8).map { ByteTokenizer().encodeBytes(EvalPrompt.generate(instruction: $0.instruction)) }
            let alone = bestTime(repeats: 1) { for p in prompts { _ = try? search.search(prompt: p, maxNewTokens: 16) } }
            let together = bestTime(repeats: 1) { _ = try? search.search(prompts: prompts, maxNewTokens: 16) }
            out.append(BenchmarkResult(name: "eval beam4 8 prompts one by one (C=256, L=4)", threads: threads, seconds: alone,
                                       extra: ["questions_per_second": Double(prompts.count) / alone]))
            out.append(BenchmarkResult(name: "eval beam4 8 prompts batched (C=256, L=4)", threads: threads, seconds: together,
                                       extra: ["questions_per_second": Double(prompts.count) / together]))
        }
        return out
    }
}

/// A ModelScorer that counts the positions it runs.
private final class CountingScorer: SequenceScorer {
    let model: CausalLM
    var tokens = 0
    init(model: CausalLM) { self.model = model }
    func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]] {
        tokens += batch.batchSize * batch.sequenceLength
        return try ModelScorer(model: model).labelLogProbabilities(batch)
    }
}
