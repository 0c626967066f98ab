import Foundation
import FuRATensor

// Legend: K beams, V vocabulary size.

/// Beam search with Hugging Face `generate(num_beams=K)` semantics (transformers 4.50+/5.x, with
/// the defaults `length_penalty = 1.0`, `early_stopping = False`, `do_sample = False`):
///
/// - K running beams; at the start beam 0 has score 0 and the others −1e9 (so the first step
///   expands the prompt once). Scores are sums of log-softmax log-probabilities of the raw logits.
/// - Each step takes the top 2K (`max(2, 1 + #eos)·K`) continuations over all K·V. A continuation
///   that ends (an EOS token, or the last allowed new token) is a finished hypothesis only if it ranks
///   among the first K; its score is sum / (new length including the EOS)^length_penalty, and the K
///   best finished are kept. The K best unfinished continuations run on.
/// - `early_stopping = False` heuristic: once K hypotheses are finished, stop when the best running
///   score divided by (new length)^length_penalty is no better than the worst finished score; no
///   hypothesis is added after that. The loop also ends when every continuation of a step ends.
/// - The answer is the best finished hypothesis (its ids include the EOS token).
public struct BeamSearch {
    public let model: GenerationModel
    public var beams: Int
    public var lengthPenalty: Double

    public init(model: GenerationModel, beams: Int, lengthPenalty: Double = 1) throws {
        guard beams >= 1 else { throw GenerationError.invalidOption(option: "num_beams", value: "\(beams)", reason: "must be ≥ 1") }
        self.model = model; self.beams = beams; self.lengthPenalty = lengthPenalty
    }

    /// One finished hypothesis.
    public struct Hypothesis: Sendable, Equatable {
        public var ids: [Int]
        /// Sum of log-probabilities of `ids`.
        public var logProbability: Double
        /// logProbability / ids.count^lengthPenalty.
        public var score: Double
        public var finishReason: FinishReason
    }

    struct Candidate {
        var parent: Int
        var token: Int
        var score: Double
    }

    /// The best continuation of `prompt` (up to `maxNewTokens` new ids), and every finished
    /// hypothesis kept (best first).
    public func search(prompt: [Int], maxNewTokens: Int, eosTokenIds: Set<Int> = []) throws -> [Hypothesis] {
        guard maxNewTokens >= 1 else { throw GenerationError.invalidOption(option: "max_new_tokens", value: "\(maxNewTokens)", reason: "must be ≥ 1") }
        guard !prompt.isEmpty else { throw GenerationError.badInput(reason: "beam search needs a prompt of at least one token") }
        let k = beams, v = model.model.config.vocabSize
        let keep = max(2, 1 + eosTokenIds.count) * k
        let cache = try model.makeCache(slots: 2 * k, capacity: prompt.count + maxNewTokens)
        var logits = try model.step(cache: cache, slots: [0], tokens: [prompt])
        for b in 1..<k { cache.copySlot(from: 0, to: b) }
        logits = try Tensor(shape: [k, v], data: (0..<k).flatMap { _ in logits.storage })
        var slotOf = Array(0..<k)
        var running: [(ids: [Int], score: Double)] = (0..<k).map { ([], $0 == 0 ? 0 : -1e9) }
        var finished: [Hypothesis] = []
        var improvable = true
        for length in 1...maxNewTokens {
            let candidates = Self.topContinuations(logits: logits, scores: running.map(\.score), vocabulary: v, count: keep)
            let ends = candidates.map { eosTokenIds.contains($0.token) || length == maxNewTokens }
            // Finished: ending continuations among the first K, while improvement is possible.
            if improvable {
                for (rank, c) in candidates.enumerated() where rank < k && ends[rank] {
                    let ids = running[c.parent].ids + [c.token]
                    let score = c.score / pow(Double(length), lengthPenalty)
                    finished.append(Hypothesis(ids: ids, logProbability: c.score, score: score,
                                               finishReason: eosTokenIds.contains(c.token) ? .eos : .length))
                }
                finished.sort { $0.score > $1.score }
                if finished.count > k { finished.removeLast(finished.count - k) }
            }
            if ends.allSatisfy({ $0 }) { break }
            // Running: the K best, ending ones pushed to the back by −1e9 as in HF.
            let next = candidates.indices.map { (i: $0, s: candidates[$0].score + (ends[$0] ? -1e9 : 0)) }
                .sorted { $0.s != $1.s ? $0.s > $1.s : $0.i < $1.i }.prefix(k)
            let chosen = next.map { candidates[$0.i] }
            slotOf = reorder(cache: cache, slotOf: slotOf, parents: chosen.map(\.parent))
            running = zip(chosen, next).map { (running[$0.parent].ids + [$0.token], $1.s) }
            if let best = running.first?.score, finished.count == k, let worst = finished.last?.score {
                improvable = improvable && best / pow(Double(length), lengthPenalty) > worst
            }
            if !improvable { break }
            logits = try model.step(cache: cache, slots: slotOf, tokens: chosen.map { [$0.token] })
        }
        return finished
    }

    /// The `count` best (parent beam, token, running + log-softmax score) over all beams, best first.
    static func topContinuations(logits: Tensor, scores: [Double], vocabulary v: Int, count: Int) -> [Candidate] {
        var all: [Candidate] = []
        logits.withUnsafeBufferPointer { pl in
            for (b, base) in scores.enumerated() {
                let row = pl.baseAddress! + b * v
                let logZ = Double(Sampler.logSumExp(row, v))
                for t in Kernels.topK(row, v, k: min(count, v)) {
                    all.append(Candidate(parent: b, token: t, score: base + (Double(row[t]) - logZ)))
                }
            }
        }
        all.sort { $0.score != $1.score ? $0.score > $1.score : ($0.parent, $0.token) < ($1.parent, $1.token) }
        return Array(all.prefix(count))
    }

    /// Gives new beam j the cache of old beam parents[j]: the first child of a parent takes over
    /// its slot, later children get a copy in a slot no old beam used. Returns the new slot of each beam.
    func reorder(cache: KVCache, slotOf: [Int], parents: [Int]) -> [Int] {
        var free = Array(Set(0..<cache.slots).subtracting(slotOf)).sorted()
        var taken = Set<Int>()
        var result: [Int] = []
        for p in parents {
            if taken.insert(p).inserted {
                result.append(slotOf[p])
            } else {
                let target = free.removeFirst()
                cache.copySlot(from: slotOf[p], to: target)
                result.append(target)
            }
        }
        return result
    }
}
