import Foundation
import FuRAModels
import FuRATensor

// Legend: N distinct prompts of one length L, K copies of each, B = N·K sequences, V vocabulary size.

/// Rollouts for GRPO: K completions of each of N prompts of equal length, decoded in lockstep with the
/// key/value cache (the prompts are prefilled once and their cache rows copied K times).
///
/// Written here because the batched generation engine (branch `gen`) had not landed; it needs only
/// `CausalLM.forwardCached`. Sampling: logits / temperature, softmax, nucleus (top-p) filter, one
/// uniform draw from the run's generator; temperature 0 is greedy.
public struct GRPOSampler {
    public var maxNewTokens: Int
    /// 0: greedy.
    public var temperature: Float
    public var topP: Float
    /// Ids that end a completion (kept as its last token).
    public var stopIds: Set<Int>

    public init(maxNewTokens: Int, temperature: Float, topP: Float, stopIds: Set<Int>) {
        self.maxNewTokens = maxNewTokens; self.temperature = temperature; self.topP = topP; self.stopIds = stopIds
    }

    /// One completion: its ids (ending with a stop id when `stopped`).
    public struct Completion: Equatable, Sendable {
        public var ids: [Int]
        public var stopped: Bool
    }

    /// K completions of each prompt, prompt-major (index n·K + k).
    ///
    /// - Parameters: `prompts` N rows of L ids (all the same L ≥ 1).
    public func sample(model: CausalLM, prompts: [[Int]], copies: Int, rng: inout RNG) throws -> [Completion] {
        guard let length = prompts.first?.count, length > 0, prompts.allSatisfy({ $0.count == length }), copies >= 1 else {
            throw TrainingError.invalidOption(option: "prompts", value: "\(prompts.map(\.count))", reason: "need non-empty prompts of one length and ≥ 1 copy")
        }
        var completions = [Completion](repeating: Completion(ids: [], stopped: false), count: prompts.count * copies)
        guard maxNewTokens > 0 else { return completions }
        var cache: [KeyValue] = []
        let prefill = try model.forwardCached(ids: prompts, cache: &cache)
        cache = try cache.map { try Self.repeatRows($0, groups: prompts.count, copies: copies) }
        var last = try Self.lastRows(prefill, batch: prompts.count, time: length)
        last = try Self.repeatRows(last, groups: prompts.count, copies: copies)
        for position in 0..<maxNewTokens {
            let logits = try model.logits(hidden: last)
            var next = [Int](repeating: 0, count: completions.count)
            logits.withUnsafeBufferPointer { p in
                let v = logits.shape[1]
                for b in completions.indices {
                    next[b] = choose(p.baseAddress! + b * v, v, rng: &rng)
                }
            }
            var active = false
            for b in completions.indices where !completions[b].stopped && completions[b].ids.count == position {
                completions[b].ids.append(next[b])
                if stopIds.contains(next[b]) { completions[b].stopped = true } else { active = true }
            }
            guard active, position + 1 < maxNewTokens else { break }
            last = try model.forwardCached(ids: next.map { [$0] }, cache: &cache)
        }
        return completions
    }

    /// Samples one id from logits `z` (V values).
    func choose(_ z: UnsafePointer<Float>, _ v: Int, rng: inout RNG) -> Int {
        guard temperature > 0 else { return Kernels.argmax(z, v) }
        let m = Kernels.max(z, v)
        var probabilities = [Double](repeating: 0, count: v)
        var total = 0.0
        for j in 0..<v { probabilities[j] = exp(Double((z[j] - m) / temperature)); total += probabilities[j] }
        var order = Array(0..<v)
        var mass = total
        if topP < 1 {
            order.sort { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
            var kept = 0, cumulative = 0.0
            // Keep the smallest prefix whose mass reaches top-p (the token that crosses it is kept).
            while kept < v { cumulative += probabilities[order[kept]]; kept += 1; if cumulative >= Double(topP) * total { break } }
            order.removeSubrange(kept...)
            mass = cumulative
        }
        let u = Double(rng.uniform()) * mass
        var acc = 0.0
        for j in order {
            acc += probabilities[j]
            if u < acc { return j }
        }
        return order.last ?? 0
    }

    /// The N equal slices of `t` along its first axis, each repeated K times: (N·R, …) → (N·K·R, …).
    static func repeatRows(_ t: Tensor, groups n: Int, copies: Int) throws -> Tensor {
        guard copies > 1, n > 0, let first = t.shape.first else { return t }
        let row = t.count / n
        var storage = [Float]()
        storage.reserveCapacity(t.count * copies)
        for i in 0..<n {
            for _ in 0..<copies { storage.append(contentsOf: t.storage[(i * row)..<((i + 1) * row)]) }
        }
        var shape = t.shape
        shape[0] = first * copies
        return try Tensor(shape: shape, data: storage)
    }

    static func repeatRows(_ kv: KeyValue, groups n: Int, copies: Int) throws -> KeyValue {
        KeyValue(keys: try repeatRows(kv.keys, groups: n, copies: copies), values: try repeatRows(kv.values, groups: n, copies: copies), length: kv.length)
    }

    /// The hidden state of the last position of each row: (N·L, C) → (N, C).
    static func lastRows(_ hidden: Tensor, batch: Int, time: Int) throws -> Tensor {
        let (_, c) = try hidden.dims2("GRPOSampler hidden")
        var out = [Float](repeating: 0, count: batch * c)
        for b in 0..<batch {
            let from = (b * time + time - 1) * c
            out.replaceSubrange((b * c)..<((b + 1) * c), with: hidden.storage[from..<(from + c)])
        }
        return try Tensor(shape: [batch, c], data: out)
    }
}
