import Foundation
import FuRAModels
import FuRATensor
import Testing

@Suite struct BeamSearchTests {
    static func model(vocab: Int = 5, seed: UInt64 = 11) throws -> CausalLM {
        try CausalLM.random(config: GenerationTests.config(vocab: vocab), seed: seed)
    }

    /// log-softmax of the full-recompute logits at the last position of `ids`.
    static func logSoftmax(_ model: CausalLM, _ ids: [Int]) throws -> [Double] {
        let l = try GenerationTests.fullLogits(model, ids).map(Double.init)
        let m = l.max()!
        let z = m + log(l.reduce(0) { $0 + exp($1 - m) })
        return l.map { $0 - z }
    }

    /// Every continuation of `prompt` that ends at an EOS or at `length` new ids, with its
    /// normalized score sum/len, by exhaustive enumeration.
    static func exhaustive(_ model: CausalLM, prompt: [Int], length: Int, eos: Set<Int>) throws -> [(ids: [Int], score: Double)] {
        var out: [(ids: [Int], score: Double)] = []
        func extend(_ ids: [Int], _ sum: Double) throws {
            let lp = try logSoftmax(model, prompt + ids)
            for t in lp.indices {
                let next = ids + [t], s = sum + lp[t]
                if eos.contains(t) || next.count == length { out.append((next, s / Double(next.count))) } else { try extend(next, s) }
            }
        }
        try extend([], 0)
        return out.sorted { $0.score > $1.score }
    }

    @Test(arguments: [Set<Int>(), Set([2])])
    func wideBeamEqualsExhaustiveSearch(eos: Set<Int>) throws {
        let model = try Self.model()
        // With K = V^(n−1) beams nothing is ever pruned, so beam search must find the exhaustive best.
        let search = try BeamSearch(model: try GenerationModel(model: model), beams: 25)
        for prompt in [[1, 3], [4]] {
            let best = try search.search(prompt: prompt, maxNewTokens: 3, eosTokenIds: eos)
            let truth = try Self.exhaustive(model, prompt: prompt, length: 3, eos: eos)
            #expect(best.first?.ids == truth.first?.ids)
            #expect(abs((best.first?.score ?? 0) - truth[0].score) < 1e-4)
            // The kept hypotheses are the best ones of the exhaustive list, in order.
            #expect(best.map(\.ids) == truth.prefix(best.count).map(\.ids))
        }
    }

    @Test func oneBeamEqualsGreedy() throws {
        let model = try Self.model(vocab: 23, seed: 5)
        let engine = try GenerationModel(model: model)
        let greedy = try Generator(model: engine).generate(prompts: [[1, 2, 3]], options: GenerationOptions(maxNewTokens: 7))[0]
        let beam = try BeamSearch(model: engine, beams: 1).search(prompt: [1, 2, 3], maxNewTokens: 7)
        #expect(beam.first?.ids == greedy.ids)
        let eos = greedy.ids[3]
        let stopped = try Generator(model: engine).generate(prompts: [[1, 2, 3]], options: GenerationOptions(maxNewTokens: 7, eosTokenIds: [eos]))[0]
        let beamStopped = try BeamSearch(model: engine, beams: 1).search(prompt: [1, 2, 3], maxNewTokens: 7, eosTokenIds: [eos])
        #expect(beamStopped.first?.ids == stopped.ids)
        #expect(beamStopped.first?.finishReason == .eos)
    }

    @Test func fourBeamsScoreAtLeastGreedyAndReuseCacheCorrectly() throws {
        let model = try Self.model(vocab: 23, seed: 8)
        let engine = try GenerationModel(model: model)
        let beams = try BeamSearch(model: engine, beams: 4).search(prompt: [5, 6], maxNewTokens: 6)
        let greedy = try Generator(model: engine).generate(prompts: [[5, 6]], options: GenerationOptions(maxNewTokens: 6))[0]
        let greedySum = greedy.logProbs.reduce(0) { $0 + Double($1) }
        #expect(beams[0].logProbability >= greedySum - 1e-5)
        // Each hypothesis' log-probability matches a full recompute of its ids (so the reordered caches were right).
        for h in beams {
            var sum = 0.0
            for (i, t) in h.ids.enumerated() { sum += try Self.logSoftmax(model, [5, 6] + h.ids[..<i])[t] }
            #expect(abs(sum - h.logProbability) < 1e-4)
        }
        #expect(throws: GenerationError.self) { try BeamSearch(model: engine, beams: 0) }
    }
}
