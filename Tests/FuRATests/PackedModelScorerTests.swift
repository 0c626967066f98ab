import Testing
import Foundation
import FuRAModels
import FuRATensor
@testable import FuRAEval

@Suite struct PackedModelScorerTests {
    /// Questions of a shared template with prompts of different lengths; some with three candidates.
    static func examples(_ n: Int) -> [EvalExample] {
        var rng = RNG(seed: 7)
        let words = ["sky", "is", "blue", "a", "cat", "can", "fly", "water", "wet", "never", "ever", "why"]
        return (0..<n).map { i in
            let question = (0..<(2 + i % 5)).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
            if i % 4 == 3 {
                return EvalExample(index: i, instruction: "pick: \(question)?", gold: "answer\(1 + i % 3)", choices: ["answer1", "answer2", "answer3"])
            }
            return EvalExample(index: i, instruction: "question: \(question)?", gold: i % 3 == 0 ? "false" : "true", choices: ["true", "false"])
        }
    }

    @Test func packedScoresMatchFullLogitsForEveryChunkSize() throws {
        let model = try CausalLM.random(config: EvalModelScorerTests.config, seed: 11)
        let tokenizer = ModuloTokenizer(vocabulary: EvalModelScorerTests.config.vocabSize)
        let prompt = { (q: String) in "Q: " + q + "\nA: " }
        let examples = Self.examples(9)
        let scorer = try PackedModelScorer(model: model)
        for chunk in [1, 4, 9] {
            let records = try LogLikelihoodEvaluator(batchSize: chunk, prompt: prompt)
                .evaluate(task: .boolq, examples: examples, tokenizer: tokenizer, prefixScorer: scorer)
            for (e, example) in examples.enumerated() {
                let context = try tokenizer.encode(prompt(example.instruction))
                let scores = try #require(records[e].scores)
                for (c, word) in example.choices.enumerated() {
                    let continuation = try tokenizer.encode(EvalTask.target(answer: word))
                    let expected = try EvalModelScorerTests.referenceScore(model, context: context, continuation: continuation)
                    #expect(abs(scores[c] - expected) < 1e-4 * max(1, abs(expected)), "chunk \(chunk) example \(e) choice \(c)")
                }
            }
        }
    }

    @Test func accAndAccNormEqualThePlainFullLogitsScorer() throws {
        let model = try CausalLM.random(config: EvalModelScorerTests.config, seed: 3)
        let tokenizer = ModuloTokenizer(vocabulary: EvalModelScorerTests.config.vocabSize)
        let examples = Self.examples(36)
        let plain = try LogLikelihoodEvaluator(batchSize: 8)
            .evaluate(task: .boolq, examples: examples, tokenizer: tokenizer, scorer: ModelScorer(model: model))
        let packed = try LogLikelihoodEvaluator(batchSize: 16)
            .evaluate(task: .boolq, examples: examples, tokenizer: tokenizer, prefixScorer: try PackedModelScorer(model: model))
        #expect(packed.map(\.correct) == plain.map(\.correct))
        #expect(packed.map(\.correctNorm) == plain.map(\.correctNorm))
        #expect(packed.map(\.extracted) == plain.map(\.extracted))
        for (p, q) in zip(packed, plain) {
            for (a, b) in zip(p.scores ?? [], q.scores ?? []) { #expect(abs(a - b) < 1e-4 * max(1, abs(b))) }
        }
        // A random model still gets some right and some wrong, so the comparison is not vacuous.
        #expect(Set(plain.map(\.correct)).count == 2)
    }

    @Test func sharedTemplateAndCandidatePrefixAreFoundAndBounded() throws {
        #expect(PackedModelScorer.commonPrefixLength([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]], limit: 9) == 2)
        #expect(PackedModelScorer.commonPrefixLength([[1, 2, 3, 4], [1, 2, 3, 4]], limit: 3) == 3)
        #expect(PackedModelScorer.commonPrefixLength([[1, 2]], limit: 2) == 0)
        let plan = try PackedModelScorer.Plan(ScoringGroup(context: [9, 8], continuations: [[1, 2, 3], [1, 2, 4, 5], [1, 2]]))
        #expect(plan.shared == 1)
        #expect(plan.prefix == [9, 8, 1])
        #expect(plan.tails == [[2, 3], [2, 4, 5], [2]])
        #expect(plan.capacity == 5)
    }

    @Test func emptyPromptsOrCandidatesAreRefused() throws {
        let scorer = try PackedModelScorer(model: try CausalLM.random(config: EvalModelScorerTests.config, seed: 1))
        #expect(throws: EvalRunError.self) { try scorer.continuationLogLikelihoods(context: [], continuations: [[1]]) }
        #expect(throws: EvalRunError.self) { try scorer.continuationLogLikelihoods(context: [1], continuations: [[1], []]) }
        #expect(try scorer.continuationLogLikelihoods(groups: []).isEmpty)
    }
}
