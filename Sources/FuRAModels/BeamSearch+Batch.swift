import FuRATensor

// Legend: Q prompts, K beams, R logits rows of one step, V vocabulary size.

extension BeamSearch {
    /// Beam search of many prompts together: prompt q owns cache slots 2K·q ..< 2K·(q+1); the
    /// prompts are prefilled in one packed step, and each new token is one engine step over the
    /// running beams of every unfinished prompt; leading tokens common to all prompts are run once. Each prompt's result is what `search(prompt:)`
    /// alone gives (its hypotheses, best first).
    public func search(prompts: [[Int]], maxNewTokens: Int, eosTokenIds: Set<Int> = []) throws -> [[Hypothesis]] {
        guard maxNewTokens >= 1 else { throw GenerationError.invalidOption(option: "max_new_tokens", value: "\(maxNewTokens)", reason: "must be ≥ 1") }
        guard !prompts.isEmpty, prompts.allSatisfy({ !$0.isEmpty }) else {
            throw GenerationError.badInput(reason: "beam search needs prompts of at least one token (got lengths \(prompts.map(\.count)))")
        }
        let k = beams, v = model.model.config.vocabSize
        let keep = max(2, 1 + eosTokenIds.count) * k
        let cache = try model.makeCache(slots: 2 * k * prompts.count, capacity: (prompts.map(\.count).max() ?? 0) + maxNewTokens)
        var states = prompts.indices.map { PromptState(base: 2 * k * $0, beams: k) }
        // Leading tokens shared by every prompt (a template) run once and are copied; each prompt keeps one own token.
        let common = Self.commonPrefixLength(prompts)
        if common > 0 {
            _ = try model.step(cache: cache, slots: [0], tokens: [Array(prompts[0].prefix(common))])
            for state in states.dropFirst() { cache.copySlot(from: 0, to: state.base) }
        }
        var logits = try model.step(cache: cache, slots: states.map(\.base), tokens: prompts.map { Array($0.dropFirst(common)) })
        for state in states { for b in 1..<k { cache.copySlot(from: state.base, to: state.base + b) } }
        // Logits rows of each prompt's K beams: at first all beams read the prompt's row.
        var rows = prompts.indices.map { Array(repeating: $0, count: k) }
        var active = Array(prompts.indices)
        for length in 1...maxNewTokens where !active.isEmpty {
            let candidates = Self.topContinuations(logits: logits, rows: active.map { rows[$0] },
                                                   scores: active.map { states[$0].running.map(\.score) }, vocabulary: v, count: keep)
            var slots: [Int] = [], tokens: [[Int]] = [], next: [Int] = []
            for (i, q) in active.enumerated() {
                guard let feed = states[q].advance(candidates: candidates[i], length: length, maxNewTokens: maxNewTokens,
                                                   eosTokenIds: eosTokenIds, lengthPenalty: lengthPenalty, cache: cache) else { continue }
                rows[q] = Array(slots.count..<(slots.count + feed.count))
                slots += feed.map(\.slot)
                tokens += feed.map { [$0.token] }
                next.append(q)
            }
            active = next
            if !active.isEmpty { logits = try model.step(cache: cache, slots: slots, tokens: tokens) }
        }
        return states.map(\.finished)
    }

    /// Tokens every prompt starts with, leaving at least one token of each (0 for a single prompt).
    static func commonPrefixLength(_ prompts: [[Int]]) -> Int {
        guard prompts.count > 1, let first = prompts.first else { return 0 }
        let limit = (prompts.map(\.count).min() ?? 1) - 1
        var n = 0
        while n < limit && prompts.allSatisfy({ $0[n] == first[n] }) { n += 1 }
        return n
    }

    /// `topContinuations` of several prompts (rows and scores per prompt), prompts split over threads.
    static func topContinuations(logits: Tensor, rows: [[Int]], scores: [[Double]], vocabulary v: Int, count: Int) -> [[Candidate]] {
        var out = [[Candidate]](repeating: [], count: rows.count)
        out.withUnsafeMutableBufferPointer { po in
            Threading.parallelFor(rows.count) { start, end in
                for i in start..<end {
                    po[i] = topContinuations(logits: logits, rows: rows[i], scores: scores[i], vocabulary: v, count: count)
                }
            }
        }
        return out
    }
}
