import Foundation
import FuRAModels
import FuRATensor
@testable import FuRATrain
import Testing

@Suite struct GRPORolloutTests {
    static let prompts = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11, 3]]

    /// One sequence sampled alone with a full recompute per token (no cache, no batch): ids and
    /// log softmax(z / T) of each chosen id.
    static func alone(_ model: CausalLM, prompt: [Int], seed: UInt64, options: SamplingOptions, maxNewTokens: Int,
                      stop: Set<Int>) throws -> (ids: [Int], logProbs: [Double]) {
        var rng = RNG(seed: seed)
        var sampler = try Sampler(options: options)
        var ids = prompt, out: [Int] = [], logProbs: [Double] = []
        while out.count < maxNewTokens {
            let logits = try model.logits(for: [ids])
            let token = logits.withUnsafeBufferPointer { sampler.choose(logits: $0, seen: Set(ids), rng: &rng).token }
            let scaled = logits.storage.map { Double($0) / Double(max(options.temperature, 1e-30)) }
            let m = scaled.max()!, z = m + log(scaled.reduce(0) { $0 + exp($1 - m) })
            logProbs.append(scaled[token] - z)
            ids.append(token); out.append(token)
            if stop.contains(token) { break }
        }
        return (out, logProbs)
    }

    @Test func packedRolloutsOfDifferentLengthsMatchOneByOneSampling() throws {
        let model = try CausalLM.random(config: GRPOTrainerTests.config, seed: 4)
        let rollout = GRPORollout(maxNewTokens: 6, temperature: 0.8, topP: 1, stopIds: [0], maxBatch: 64)
        let copies = 3
        let completions = try rollout.sample(model: GenerationModel(model: model), prompts: Self.prompts, copies: copies, seed: 77)
        #expect(completions.count == Self.prompts.count * copies)
        // The engine seeds sequence i with the i-th draw of RNG(seed).
        var seeds = RNG(seed: 77)
        for (i, completion) in completions.enumerated() {
            let reference = try Self.alone(model, prompt: Self.prompts[i / copies], seed: seeds.next(),
                                           options: SamplingOptions(temperature: 0.8), maxNewTokens: 6, stop: [0])
            #expect(completion.ids == reference.ids, "sequence \(i)")
            #expect(completion.stopped == (completion.ids.last == 0))
            let old = try #require(completion.oldLogProbabilities)
            for (a, b) in zip(old, reference.logProbs) { #expect(abs(Double(a) - b) < 1e-4, "sequence \(i)") }
        }
        // Repeats of one prompt are different samples.
        #expect(Set((0..<copies).map { completions[$0].ids }).count > 1)
    }

    @Test func samplingTimeLogProbabilitiesEqualTheTrainingForwards() throws {
        let model = try CausalLM.random(config: GRPOTrainerTests.config, seed: 5)
        let temperature: Float = 1.3
        let rollout = GRPORollout(maxNewTokens: 5, temperature: temperature, topP: 1, stopIds: [], maxBatch: 4)
        let completions = try rollout.sample(model: GenerationModel(model: model), prompts: Self.prompts, copies: 2, seed: 1)
        let sequences = completions.enumerated().map { Self.prompts[$0.offset / 2] + $0.element.ids }
        let targets = completions.enumerated().map { i, c in
            Array(repeating: TokenBatch.ignoreIndex, count: Self.prompts[i / 2].count - 1) + c.ids + [TokenBatch.ignoreIndex]
        }
        let training = try model.labelLogProbabilities(TokenBatch.padded(sequences: sequences, targets: targets, padId: 0),
                                                       temperature: temperature)
        for (i, c) in completions.enumerated() {
            let start = Self.prompts[i / 2].count - 1
            let old = try #require(c.oldLogProbabilities)
            for k in c.ids.indices { #expect(abs(old[k] - training[i][start + k]) < 1e-4) }
        }
    }

    @Test func truncatedSamplingKeepsNoOldLogProbabilitiesAndGreedyCopiesAgree() throws {
        let model = try CausalLM.random(config: GRPOTrainerTests.config, seed: 6)
        let engine = try GenerationModel(model: model)
        let nucleus = GRPORollout(maxNewTokens: 4, temperature: 1, topP: 0.5, stopIds: [], maxBatch: 8)
        #expect(try nucleus.sample(model: engine, prompts: Self.prompts, copies: 2, seed: 3).allSatisfy { $0.oldLogProbabilities == nil })
        let greedy = GRPORollout(maxNewTokens: 4, temperature: 0, topP: 1, stopIds: [], maxBatch: 8)
        let g = try greedy.sample(model: engine, prompts: Self.prompts, copies: 2, seed: 3)
        for p in Self.prompts.indices {
            #expect(g[2 * p].ids == g[2 * p + 1].ids)
            var ids = Self.prompts[p]
            for _ in 0..<4 {
                let logits = try model.logits(for: [ids])
                ids.append(logits.withUnsafeBufferPointer { Kernels.argmax($0.baseAddress!, logits.shape[1]) })
            }
            #expect(g[2 * p].ids == Array(ids.dropFirst(Self.prompts[p].count)))
        }
        #expect(throws: TrainingError.self) { try greedy.sample(model: engine, prompts: [[]], copies: 2, seed: 0) }
    }

    /// Each rank's part of a step's completions reaches every rank, in rank order, ids and stop flags intact, without
    /// old log-probabilities (a data-parallel step takes the first pass's own); a rank with no part adds nothing.
    @Test func gatheredCompletionsAreEveryRanksPartInRankOrder() throws {
        let parts = [[GRPOCompletion(ids: [5, 49151, 2], stopped: true, oldLogProbabilities: [-0.5, -1.25, -3])],
                     [],
                     [GRPOCompletion(ids: [7], stopped: false, oldLogProbabilities: nil),
                      GRPOCompletion(ids: [8, 9], stopped: true, oldLogProbabilities: [-1, -2])]]
        let expected = parts.joined().map { GRPOCompletion(ids: $0.ids, stopped: $0.stopped, oldLogProbabilities: nil) }
        let recorders = parts.indices.map { ReplayCollective(rank: $0, size: parts.count) }
        for (rank, part) in parts.enumerated() { _ = try GRPOCompletion.gather(part, over: recorders[rank]) }
        for (rank, part) in parts.enumerated() {
            let collective = ReplayCollective(rank: rank, size: parts.count, replaying: recorders.filter { $0.rank != rank })
            #expect(try GRPOCompletion.gather(part, over: collective) == expected, "rank \(rank)")
        }
        #expect(try GRPOCompletion.gather(parts[0], over: SingleProcess()) == parts[0])
    }
}
