import Foundation
@testable import FuRAModels
import FuRATensor
import Testing

@Suite struct BeamSearchBatchTests {
    /// Per-prompt search in a fresh cache: the reference the batched search must reproduce.
    static func alone(_ search: BeamSearch, _ prompt: [Int], maxNewTokens: Int, eos: Set<Int>) throws -> [BeamSearch.Hypothesis] {
        try BeamSearch(model: search.model, beams: search.beams).search(prompts: [prompt], maxNewTokens: maxNewTokens, eosTokenIds: eos)[0]
    }

    @Test(arguments: [Set<Int>(), Set([2]), Set([2, 7])])
    func batchedResultsEqualPerPromptResults(eos: Set<Int>) throws {
        let model = try BeamSearchTests.model(vocab: 23, seed: 8)
        let search = try BeamSearch(model: try GenerationModel(model: model), beams: 4)
        // Prompts of different lengths, a repeated prompt, one of a single token; then prompts sharing a
        // template (run once and copied), one of them being the template plus a single token.
        for prompts in [[[5, 6], [1, 2, 3, 4, 9, 11], [7], [5, 6], [13, 0, 22]],
                        [[4, 4, 9, 1, 20], [4, 4, 9, 2], [4, 4, 9, 1], [4, 4, 9, 1, 20, 3, 3]]] {
            if prompts[0][0] == 4 { #expect(BeamSearch.commonPrefixLength(prompts) == 3) }
            let batched = try search.search(prompts: prompts, maxNewTokens: 6, eosTokenIds: eos)
            #expect(batched.count == prompts.count)
            for (prompt, got) in zip(prompts, batched) {
                let expected = try Self.alone(search, prompt, maxNewTokens: 6, eos: eos)
                #expect(got.map(\.ids) == expected.map(\.ids), "prompt \(prompt)")
                #expect(got.map(\.finishReason) == expected.map(\.finishReason))
                for (a, b) in zip(got, expected) { #expect(abs(a.score - b.score) < 1e-5) }
                #expect(!got.isEmpty)
            }
        }
    }

    @Test func batchedHypothesesMatchAFullRecompute() throws {
        let model = try BeamSearchTests.model(vocab: 23, seed: 4)
        let prompts = [[3, 4], [8, 9, 10, 11, 12], [1]]
        let results = try BeamSearch(model: try GenerationModel(model: model), beams: 3).search(prompts: prompts, maxNewTokens: 5, eosTokenIds: [6])
        for (prompt, hypotheses) in zip(prompts, results) {
            for h in hypotheses {
                var sum = 0.0
                for (i, t) in h.ids.enumerated() { sum += try BeamSearchTests.logSoftmax(model, prompt + h.ids[..<i])[t] }
                #expect(abs(sum - h.logProbability) < 1e-4, "prompt \(prompt) ids \(h.ids)")
            }
        }
    }

    @Test func badPromptsAreRefused() throws {
        let search = try BeamSearch(model: try GenerationModel(model: try BeamSearchTests.model()), beams: 2)
        #expect(throws: GenerationError.self) { try search.search(prompts: [], maxNewTokens: 3) }
        #expect(throws: GenerationError.self) { try search.search(prompts: [[1], []], maxNewTokens: 3) }
        #expect(throws: GenerationError.self) { try search.search(prompts: [[1]], maxNewTokens: 0) }
    }
}
