import Foundation
import FuRATensor

/// What a generation call does beyond choosing tokens: how long, when to stop, the seed.
public struct GenerationOptions: Sendable, Equatable {
    public var maxNewTokens: Int
    public var sampling: SamplingOptions
    /// Seeds one RNG per sequence (drawn in order from an RNG of this seed), so a sequence's tokens
    /// do not depend on which other sequences share its batch.
    public var seed: UInt64
    /// The index of the first prompt in the list the seed's draws are numbered over: prompt k of this call takes
    /// draw `firstSequenceIndex + k`, so a part of a list sampled alone (by one process of several) draws what it
    /// draws in the whole list.
    public var firstSequenceIndex = 0
    /// Tokens that end a sequence (kept as its last id); empty never stops on a token.
    public var eosTokenIds: Set<Int>
    /// Texts that end a sequence once its decoded output contains one (needs a decoder).
    public var stopStrings: [String]
    /// Sequences decoded together at most (rows of one decode step); more are run in rounds.
    public var maxBatch: Int

    public init(maxNewTokens: Int = 128, sampling: SamplingOptions = .greedy, seed: UInt64 = 0,
                eosTokenIds: Set<Int> = [], stopStrings: [String] = [], maxBatch: Int = 64) {
        self.maxNewTokens = maxNewTokens; self.sampling = sampling; self.seed = seed
        self.eosTokenIds = eosTokenIds; self.stopStrings = stopStrings; self.maxBatch = maxBatch
    }

    public func validate() throws {
        try sampling.validate()
        guard maxNewTokens >= 1 else { throw GenerationError.invalidOption(option: "max_new_tokens", value: "\(maxNewTokens)", reason: "must be ≥ 1") }
        guard maxBatch >= 1 else { throw GenerationError.invalidOption(option: "max batch", value: "\(maxBatch)", reason: "must be ≥ 1") }
        guard firstSequenceIndex >= 0 else {
            throw GenerationError.invalidOption(option: "first sequence index", value: "\(firstSequenceIndex)", reason: "must be ≥ 0")
        }
        guard !stopStrings.contains("") else { throw GenerationError.invalidOption(option: "stop", value: "\"\"", reason: "stop strings must not be empty") }
    }
}

/// Why a sequence stopped.
public enum FinishReason: String, Sendable, Codable, Equatable {
    /// It produced an end-of-sequence token.
    case eos
    /// Its text came to contain a stop string.
    case stop
    /// It reached the new-token limit.
    case length
}

/// One generated sequence.
public struct GenerationResult: Sendable, Equatable {
    public var promptIds: [Int]
    /// New ids, including the EOS token or the token that completed a stop string.
    public var ids: [Int]
    /// The decoded new text without a final EOS token and cut before a stop string; empty without a decoder.
    public var text: String
    public var finishReason: FinishReason
    /// Per new id: log softmax of the raw model logits (temperature 1, no processing): log π(token).
    public var logProbs: [Float]
    /// Per new id: log-probability under the processed distribution it was drawn from.
    public var processedLogProbs: [Float]
}

/// Batched generation over a `GenerationModel`: packed prefill of distinct prompts, then decode steps
/// of only the unfinished sequences, logits at each sequence's last position only.
public final class Generator {
    public let model: GenerationModel
    /// Bounds the rows of one prefill step (memory of activations).
    public var prefillRowLimit = 4096
    /// Whether repeats of a prompt read its keys and values from the first copy's cache slot
    /// (`KVCache.shareSlot`; same results, less memory traffic) rather than from copies.
    public var sharePromptPrefix = true
    /// How the cache holds keys and values: f32 (exact, the default) or f16 (half the memory traffic
    /// of attention; logits change by ~1e-3, so tokens may differ from an f32 run).
    public var keyValuePrecision: KVCache.Precision = .float32

    public init(model: GenerationModel) { self.model = model }

    /// Generates a continuation of every prompt.
    ///
    /// - Parameters: `decode` turns new ids into text (for `text` and stop strings); `onToken`
    ///   sees (prompt index, token) as each token is chosen, for streaming.
    public func generate(prompts: [[Int]], options: GenerationOptions, decode: (([Int]) -> String)? = nil,
                         onToken: ((Int, Int) -> Void)? = nil) throws -> [GenerationResult] {
        try options.validate()
        guard !prompts.isEmpty, prompts.allSatisfy({ !$0.isEmpty }) else {
            throw GenerationError.badInput(reason: "every prompt needs at least one token (got \(prompts.map(\.count)))")
        }
        guard options.stopStrings.isEmpty || decode != nil else {
            throw GenerationError.invalidOption(option: "stop", value: "\(options.stopStrings)", reason: "stop strings need a decoder (tokenizer)")
        }
        var seeds = RNG(seed: options.seed)
        for _ in 0..<options.firstSequenceIndex { _ = seeds.next() }
        var rngs = prompts.map { _ in RNG(seed: seeds.next()) }
        var results: [GenerationResult] = []
        var start = 0
        while start < prompts.count {
            let end = min(prompts.count, start + options.maxBatch)
            results += try round(prompts: Array(prompts[start..<end]), offset: start, rngs: &rngs[start..<end],
                                 options: options, decode: decode, onToken: onToken)
            start = end
        }
        return results
    }

    /// One batch of at most `maxBatch` sequences.
    func round(prompts: [[Int]], offset: Int, rngs: inout ArraySlice<RNG>, options: GenerationOptions,
               decode: (([Int]) -> String)?, onToken: ((Int, Int) -> Void)?) throws -> [GenerationResult] {
        let count = prompts.count
        let capacity = (prompts.map(\.count).max() ?? 0) + options.maxNewTokens
        let cache = try model.makeCache(slots: count, capacity: capacity, precision: keyValuePrecision)
        var logits = try prefill(prompts: prompts, cache: cache)
        var seen = prompts.map { Set($0) }
        var outputs = prompts.map { GenerationResult(promptIds: $0, ids: [], text: "", finishReason: .length, logProbs: [], processedLogProbs: []) }
        var active = Array(0..<count)
        let stopWindow = (options.stopStrings.map(\.utf8.count).max() ?? 0) + 3
        while !active.isEmpty {
            var next: [Int] = []
            let picks = choose(logits: logits, rows: active, options: options.sampling, seen: seen, rngs: &rngs)
            for (s, pick) in zip(active, picks) {
                outputs[s].ids.append(pick.token)
                outputs[s].logProbs.append(pick.logProb)
                outputs[s].processedLogProbs.append(pick.processedLogProb)
                seen[s].insert(pick.token)
                onToken?(offset + s, pick.token)
                if options.eosTokenIds.contains(pick.token) {
                    outputs[s].finishReason = .eos
                } else if let decode, !options.stopStrings.isEmpty,
                          Self.containsStop(decode(Array(outputs[s].ids.suffix(stopWindow))), options.stopStrings) {
                    outputs[s].finishReason = .stop
                } else if outputs[s].ids.count >= options.maxNewTokens {
                    outputs[s].finishReason = .length
                } else {
                    next.append(s)
                }
            }
            if !next.isEmpty {
                logits = try model.step(cache: cache, slots: next, tokens: next.map { [outputs[$0].ids[outputs[$0].ids.count - 1]] })
            }
            active = next
        }
        if let decode {
            for s in 0..<count {
                var ids = outputs[s].ids
                if outputs[s].finishReason == .eos { ids.removeLast() }
                var text = decode(ids)
                if outputs[s].finishReason == .stop, let cut = Self.firstStop(in: text, options.stopStrings) { text = String(text[..<cut]) }
                outputs[s].text = text
            }
        }
        return outputs
    }

    /// One token for each logits row (R, V); row r belongs to sequence rows[r] and uses its RNG.
    /// Rows are split over threads; each sequence's draw depends only on its own RNG.
    func choose(logits: Tensor, rows: [Int], options: SamplingOptions, seen: [Set<Int>], rngs: inout ArraySlice<RNG>) -> [SampledToken] {
        let v = model.model.config.vocabSize
        var picks = [SampledToken](repeating: SampledToken(token: 0, logProb: 0, processedLogProb: 0), count: rows.count)
        logits.withUnsafeBufferPointer { pl in picks.withUnsafeMutableBufferPointer { pp in rngs.withUnsafeMutableBufferPointer { pr in
            Threading.parallelFor(rows.count, minimumPerChunk: 4) { start, end in
                // Options were validated by `generate`, so this cannot throw.
                guard var sampler = try? Sampler(options: options) else { return }
                for r in start..<end {
                    let s = rows[r]
                    pp[r] = sampler.choose(logits: UnsafeBufferPointer(rebasing: pl[(r * v)..<((r + 1) * v)]), seen: seen[s], rng: &pr[s])
                }
            }
        } } }
        return picks
    }

    /// Runs each distinct prompt once (packed, in chunks of at most `prefillRowLimit` rows), shares or
    /// copies its cache with repeats of it, and returns the last-position logits (count, V) in prompt order.
    func prefill(prompts: [[Int]], cache: KVCache) throws -> Tensor {
        var firstIndex: [[Int]: Int] = [:]
        var distinct: [Int] = []
        for (i, p) in prompts.enumerated() where firstIndex[p] == nil { firstIndex[p] = i; distinct.append(i) }
        let v = model.model.config.vocabSize
        var logits = Tensor.zeros([prompts.count, v])
        var chunk: [Int] = [], rows = 0
        func flush() throws {
            guard !chunk.isEmpty else { return }
            let l = try model.step(cache: cache, slots: chunk, tokens: chunk.map { prompts[$0] })
            for (row, s) in chunk.enumerated() {
                logits.storage.replaceSubrange((s * v)..<((s + 1) * v), with: l.storage[(row * v)..<((row + 1) * v)])
            }
            chunk = []; rows = 0
        }
        for s in distinct {
            if rows + prompts[s].count > prefillRowLimit { try flush() }
            chunk.append(s); rows += prompts[s].count
        }
        try flush()
        for (i, p) in prompts.enumerated() {
            guard let first = firstIndex[p], first != i else { continue }
            if sharePromptPrefix { cache.shareSlot(from: first, to: i) } else { cache.copySlot(from: first, to: i) }
            logits.storage.replaceSubrange((i * v)..<((i + 1) * v), with: logits.storage[(first * v)..<((first + 1) * v)])
        }
        return logits
    }

    static func containsStop(_ text: String, _ stops: [String]) -> Bool { stops.contains { text.contains($0) } }

    /// The start of the earliest stop string in `text`.
    static func firstStop(in text: String, _ stops: [String]) -> String.Index? {
        stops.compactMap { text.range(of: $0)?.lowerBound }.min()
    }
}
