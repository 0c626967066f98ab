import Foundation
import FuRAModels
import FuRATensor

// Legend: K candidates, P prompt (+ shared candidate prefix) positions, T remaining candidate positions,
// C model dim, V vocabulary.

/// Prefix KV reuse: the prompt and the candidates' common leading tokens ("the correct answer is")
/// run once; their keys and values are copied to K rows and only the differing tails run per candidate.
public struct CachedModelScorer: PrefixScorer {
    public let model: CausalLM
    /// Fills the candidate rows past their end (never scored; causal attention keeps it out of real rows).
    public var padId: Int

    public init(model: CausalLM, padId: Int = 0) {
        self.model = model
        self.padId = padId
    }

    public func continuationLogLikelihoods(context: [Int], continuations: [[Int]]) throws -> [Double] {
        guard !context.isEmpty, !continuations.isEmpty, continuations.allSatisfy({ !$0.isEmpty }) else {
            throw EvalRunError.invalidOption(name: "prefix scoring", value: "an empty prompt or candidate", expected: "non-empty token lists")
        }
        // Shared leading tokens join the prompt, keeping at least one token per candidate.
        var shared = 0
        let shortest = continuations.map(\.count).min() ?? 0
        while shared < shortest - 1 && continuations.allSatisfy({ $0[shared] == continuations[0][shared] }) { shared += 1 }
        let prefix = context + continuations[0].prefix(shared)
        var cache: [KeyValue] = []
        let prefixHidden = try model.forwardCached(ids: [prefix], cache: &cache)
        let p = prefix.count, c = model.config.hiddenSize
        // Rows p−1−shared … p−1: the rows that predict the shared tokens and each candidate's first own token.
        let lastRows = try Tensor(shape: [shared + 1, c], data: Array(prefixHidden.storage[((p - 1 - shared) * c)..<(p * c)]))
        let prefixLogits = try model.logits(hidden: lastRows)
        let v = model.config.vocabSize
        var sharedSum = 0.0
        for t in 0..<shared { sharedSum += Self.logSoftmax(prefixLogits, row: t, vocabulary: v, at: continuations[0][t]) }
        var sums = continuations.map { sharedSum + Self.logSoftmax(prefixLogits, row: shared, vocabulary: v, at: $0[shared]) }

        let tails = continuations.map { Array($0.dropFirst(shared)) }    // first token already scored
        let time = (tails.map(\.count).max() ?? 1) - 1
        guard time > 0 else { return sums }
        let k = continuations.count
        var tiled = try cache.map { try Self.tile($0, times: k) }
        let ids = tails.map { tail in Array(tail.dropLast()) + Array(repeating: padId, count: time - (tail.count - 1)) }
        let logits = try model.logits(hidden: try model.forwardCached(ids: ids, cache: &tiled))
        for (b, tail) in tails.enumerated() {
            for t in 0..<(tail.count - 1) { sums[b] += Self.logSoftmax(logits, row: b * time + t, vocabulary: v, at: tail[t + 1]) }
        }
        return sums
    }

    /// `log softmax(logits[row])[label]` in Double; logits (N, V).
    static func logSoftmax(_ logits: Tensor, row: Int, vocabulary v: Int, at label: Int) -> Double {
        let base = row * v
        var m = -Double.infinity
        for j in 0..<v { m = max(m, Double(logits.storage[base + j])) }
        var z = 0.0
        for j in 0..<v { z += exp(Double(logits.storage[base + j]) - m) }
        return Double(logits.storage[base + label]) - m - log(z)
    }

    /// A batch-1 cache repeated to K sequences (batch-major storage, so the data repeats K times).
    static func tile(_ kv: KeyValue, times k: Int) throws -> KeyValue {
        func repeated(_ t: Tensor) throws -> Tensor {
            var storage: [Float] = []
            storage.reserveCapacity(t.count * k)
            for _ in 0..<k { storage += t.storage }
            var shape = t.shape
            if !shape.isEmpty { shape[0] *= k }   // batch-major rows: (P, …) → (K·P, …)
            return try Tensor(shape: shape, data: storage)
        }
        return KeyValue(keys: try repeated(kv.keys), values: try repeated(kv.values), length: kv.length)
    }
}
