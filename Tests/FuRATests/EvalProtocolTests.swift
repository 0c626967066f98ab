import Testing
import FuRAModels
@testable import FuRAEval

/// One token per Unicode scalar, id = scalar value.
struct ScalarTokenizer: EvalTokenizer {
    func encode(_ text: String) throws -> [Int] { text.unicodeScalars.map { Int($0.value) } }
    static func decode(_ ids: [Int]) -> String {
        String(String.UnicodeScalarView(ids.compactMap { Unicode.Scalar(UInt32($0)) }))
    }
}

/// A fake model whose log-likelihoods are forced: a row whose text contains a key of `totals` scores
/// that total (placed on its last labelled position). Records every batch it sees.
final class ForcedScorer: SequenceScorer {
    var totals: [(key: String, total: Float)]
    var batches: [TokenBatch] = []
    init(totals: [(String, Float)]) { self.totals = totals.map { (key: $0.0, total: $0.1) } }

    func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]] {
        batches.append(batch)
        return (0..<batch.batchSize).map { b in
            var row = Array(repeating: Float(0), count: batch.sequenceLength)
            guard let last = batch.labels[b].lastIndex(where: { $0 != TokenBatch.ignoreIndex }) else { return row }
            let text = ScalarTokenizer.decode(Array(batch.ids[b][..<batch.lengths[b]]) + [batch.labels[b][last]])
            if let hit = totals.first(where: { text.contains($0.key) }) { row[last] = hit.total } else { row[last] = -100 }
            return row
        }
    }
}

/// A fake generator that answers each prompt by the first key of `answers` it contains.
struct ForcedGenerator: TextGenerator {
    var answers: [(String, String)]
    func generate(prompts: [String], maxNewTokens: Int, numBeams: Int) throws -> [String] {
        prompts.map { p in answers.first(where: { p.contains($0.0) })?.1 ?? "no idea" }
    }
}

@Suite struct EvalProtocolTests {
    func boolq(_ n: Int, gold: [String]) -> [EvalExample] {
        (0..<n).map { EvalExample(index: $0, instruction: "question Q\($0)?\n\nAnswer format: true/false", gold: gold[$0], choices: ["true", "false"]) }
    }

    @Test func logLikelihoodGivesTheForcedAccuracyAndAccNorm() throws {
        let examples = boolq(4, gold: ["true", "false", "true", "false"])
        // Q0: true wins outright. Q1: false wins outright. Q2: true wins by sum, false per byte
        // (−2.6/26 = −0.1 < −2.65/27). Q3: true wins both ways (gold false: wrong).
        let scorer = ForcedScorer(totals: [
            ("Q0?\n\nAnswer format: true/false\n\n### Response:\nthe correct answer is true", -1), ("Q0?", -5),
            ("Q1?\n\nAnswer format: true/false\n\n### Response:\nthe correct answer is false", -1), ("Q1?", -5),
            ("Q2?\n\nAnswer format: true/false\n\n### Response:\nthe correct answer is true", -2.6), ("Q2?", -2.65),
            ("Q3?\n\nAnswer format: true/false\n\n### Response:\nthe correct answer is true", -1), ("Q3?", -9),
        ])
        let evaluator = LogLikelihoodEvaluator(batchSize: 3, padId: 0)
        let records = try evaluator.evaluate(task: .boolq, examples: examples, tokenizer: ScalarTokenizer(), scorer: scorer)
        #expect(records.map(\.correct) == [true, true, true, false])
        #expect(records.map(\.correctNorm) == [true, true, false, false])
        #expect(records[2].scores == [Double(Float(-2.6)), Double(Float(-2.65))])
        let result = TaskResult(task: .boolq, protocol: .loglikelihood, records: records)
        #expect(result.n == 4 && result.correct == 3 && result.accuracy == 0.75 && result.accNorm == 0.5)

        // 8 sequences in batches of 3; labels only on the candidate's tokens, shifted by one.
        #expect(scorer.batches.map(\.batchSize) == [3, 3, 2])
        for batch in scorer.batches {
            for b in 0..<batch.batchSize {
                let labelled = batch.labels[b].enumerated().filter { $0.element != TokenBatch.ignoreIndex }
                let candidate = ScalarTokenizer.decode(labelled.map(\.element))
                #expect(candidate == "the correct answer is true" || candidate == "the correct answer is false")
                #expect(labelled.last?.offset == batch.lengths[b] - 1)
                for (t, label) in labelled where t + 1 < batch.lengths[b] { #expect(batch.ids[b][t + 1] == label) }
            }
        }
    }

    @Test func logLikelihoodRefusesMathAndBadScorers() throws {
        #expect(throws: EvalRunError.notMultipleChoice(task: "gsm8k")) {
            try LogLikelihoodEvaluator().evaluate(task: .gsm8k, examples: [], tokenizer: ScalarTokenizer(), scorer: ForcedScorer(totals: []))
        }
        struct ShortScorer: SequenceScorer {
            func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]] { [[0]] }
        }
        #expect(throws: EvalRunError.self) {
            try LogLikelihoodEvaluator().evaluate(task: .boolq, examples: boolq(1, gold: ["true"]), tokenizer: ScalarTokenizer(), scorer: ShortScorer())
        }
    }

    @Test func generateGivesTheForcedAccuracy() throws {
        let examples = boolq(5, gold: ["true", "false", "true", "false", "true"])
        let generator = ForcedGenerator(answers: [
            ("Q0?", "The correct answer is TRUE"), ("Q1?", "the correct answer is false"),
            ("Q2?", "false... no wait, true"), ("Q3?", "I am not sure")])
        let records = try GenerateEvaluator(batchSize: 2).evaluate(task: .boolq, examples: examples, generator: generator)
        #expect(records.map(\.correct) == [true, true, false, false, false])
        #expect(records.map(\.extracted) == ["true", "false", "false", "", ""])
        #expect(records[0].prompt == EvalPrompt.generate(instruction: examples[0].instruction))
        let result = TaskResult(task: .boolq, protocol: .generate, records: records)
        #expect(result.correct == 2 && result.accuracy == 0.4 && result.accNorm == nil)

        struct DroppingGenerator: TextGenerator {
            func generate(prompts: [String], maxNewTokens: Int, numBeams: Int) throws -> [String] { Array(prompts.dropLast()) }
        }
        #expect(throws: EvalRunError.generatorCount(expected: 2, actual: 1)) {
            try GenerateEvaluator(batchSize: 2).evaluate(task: .boolq, examples: examples, generator: DroppingGenerator())
        }
    }

    @Test func generateGradesMathTasks() throws {
        let numeric = [EvalExample(index: 0, instruction: "m0", gold: "1000.0", choices: []),
                       EvalExample(index: 1, instruction: "m1", gold: "-3", choices: []),
                       EvalExample(index: 2, instruction: "m2", gold: "7", choices: [])]
        let generator = ForcedGenerator(answers: [("m0", "so 1,000 in total. The answer is 1,000."),
                                                  ("m1", "The answer is 3."), ("m2", "The answer is 6.9995")])
        let records = try GenerateEvaluator().evaluate(task: .gsm8k, examples: numeric, generator: generator)
        #expect(records.map(\.correct) == [true, false, true])

        let boxed = [EvalExample(index: 0, instruction: "b0", gold: "\\frac{\\sqrt{3}}{2}", choices: []),
                     EvalExample(index: 1, instruction: "b1", gold: "0.5", choices: []),
                     EvalExample(index: 2, instruction: "b2", gold: "5", choices: [])]
        let boxedGenerator = ForcedGenerator(answers: [("b0", "thus \\boxed{\\dfrac{\\sqrt{3}}{2}}"),
                                                       ("b1", "\\boxed{\\frac12}"), ("b2", "the answer is 5")])
        let boxedRecords = try GenerateEvaluator().evaluate(task: .math, examples: boxed, generator: boxedGenerator)
        #expect(boxedRecords.map(\.correct) == [true, true, false])
        #expect(boxedRecords[2].extracted == nil)
    }

    @Test func aquaMatchesCapitalLettersCaseSensitively() {
        #expect(GenerateEvaluator.grade(task: .aqua, completion: "so the total is 620. The answer is (C).", gold: "C") == ("C", true))
        #expect(GenerateEvaluator.grade(task: .aqua, completion: "the answer is (c)", gold: "C") == ("", false))
        #expect(GenerateEvaluator.grade(task: .aqua, completion: "After 4 years: (C)", gold: "C") == ("A", false))  // first capital A-E, as the reference
        #expect(GenerateEvaluator.grade(task: .boolq, completion: "TRUE", gold: "True") == ("true", true))
    }

    @Test func summaryAveragesTasksUnweightedAndPrintsThePaperTable() {
        let a = TaskResult(task: .boolq, protocol: .generate,
                           records: (0..<4).map { EvalRecord(task: "boolq", index: $0, prompt: "", output: "", extracted: "", gold: "", correct: $0 < 3) })
        let b = TaskResult(task: .piqa, protocol: .generate,
                           records: (0..<2).map { EvalRecord(task: "piqa", index: $0, prompt: "", output: "", extracted: "", gold: "", correct: $0 < 1) })
        let summary = EvalSummary(tasks: [a, b])
        #expect(summary.average == 0.625)          // (0.75 + 0.5) / 2, not 4/6
        #expect(summary.averageNorm == nil)
        let table = summary.table(label: "base")
        #expect(table == "      BoolQ  PIQA   Avg\nbase   75.0  50.0  62.5")
        #expect(EvalSummary.percent(0.8785) == "87.9")
    }
}
