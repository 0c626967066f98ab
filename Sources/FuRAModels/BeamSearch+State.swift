import Foundation
import FuRATensor

// Legend: K beams, V vocabulary size.

extension BeamSearch {
    /// The search state of one prompt: its running beams, finished hypotheses, and the 2K cache
    /// slots it owns (`base ..< base + 2K`), of which the running beams use K.
    struct PromptState {
        let base: Int
        /// Cache slot of each running beam (K,).
        var slotOf: [Int]
        var running: [(ids: [Int], score: Double)]
        var finished: [Hypothesis] = []
        var improvable = true
        var done = false

        /// Beam 0 at score 0 and the others at −1e9, all on copies of the prompt's slot `base`.
        init(base: Int, beams k: Int) {
            self.base = base
            slotOf = (0..<k).map { base + $0 }
            running = (0..<k).map { ([], $0 == 0 ? 0 : -1e9) }
        }

        /// One step of HF beam search given the top continuations of this step (new length `length`):
        /// records finished hypotheses, picks the K running beams, moves their caches into place, and
        /// returns the (slot, token) each running beam feeds next, or nil when the search is over.
        mutating func advance(candidates: [Candidate], length: Int, maxNewTokens: Int, eosTokenIds: Set<Int>,
                              lengthPenalty: Double, cache: KVCache) -> [(slot: Int, token: Int)]? {
            let k = running.count
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
            if ends.allSatisfy({ $0 }) { done = true; return nil }
            // Running: the K best, ending ones pushed to the back by −1e9 as in HF.
            let next = candidates.indices.map { (i: $0, s: candidates[$0].score + (ends[$0] ? -1e9 : 0)) }
                .sorted { $0.s != $1.s ? $0.s > $1.s : $0.i < $1.i }.prefix(k)
            let chosen = next.map { candidates[$0.i] }
            slotOf = reorder(cache: cache, parents: chosen.map(\.parent))
            running = zip(chosen, next).map { (running[$0.parent].ids + [$0.token], $1.s) }
            if let best = running.first?.score, finished.count == k, let worst = finished.last?.score {
                improvable = improvable && best / pow(Double(length), lengthPenalty) > worst
            }
            if !improvable { done = true; return nil }
            return zip(slotOf, chosen).map { ($0, $1.token) }
        }

        /// Gives new beam j the cache of old beam parents[j]: the first child of a parent takes over
        /// its slot, later children get a copy in one of this prompt's slots no old beam used.
        /// Returns the new slot of each beam.
        func reorder(cache: KVCache, parents: [Int]) -> [Int] {
            var free = Array(Set(base..<(base + 2 * running.count)).subtracting(slotOf)).sorted()
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
}
