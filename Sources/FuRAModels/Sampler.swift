import Foundation
import FuRATensor

// Legend: V vocabulary size.

/// How the next token is chosen from the model's logits (HF `generate` semantics and order:
/// repetition penalty, then temperature, top-k, top-p, min-p; `temperature == 0` is greedy).
public struct SamplingOptions: Sendable, Equatable, Codable {
    /// 0 picks the arg-max (greedy); otherwise logits are divided by it before sampling.
    public var temperature: Float
    /// Keep only the k most likely tokens; 0 turns it off.
    public var topK: Int
    /// Keep the smallest most-likely set whose probability reaches p; 1 turns it off.
    public var topP: Float
    /// Drop tokens whose probability is below minP times the largest; 0 turns it off.
    public var minP: Float
    /// HF/CTRL penalty on every token already in the prompt or output: a logit l becomes l/r if
    /// positive, l·r if negative; 1 turns it off.
    public var repetitionPenalty: Float

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0, repetitionPenalty: Float = 1) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.minP = minP
        self.repetitionPenalty = repetitionPenalty
    }

    /// Greedy decoding.
    public static let greedy = SamplingOptions(temperature: 0)

    enum CodingKeys: String, CodingKey {
        case temperature, topK = "top_k", topP = "top_p", minP = "min_p", repetitionPenalty = "repetition_penalty"
    }

    /// Throws for values outside their ranges, naming the option and the range.
    public func validate() throws {
        guard temperature.isFinite, temperature >= 0 else {
            throw GenerationError.invalidOption(option: "temperature", value: "\(temperature)", reason: "must be ≥ 0 (0 is greedy)")
        }
        guard topK >= 0 else { throw GenerationError.invalidOption(option: "top_k", value: "\(topK)", reason: "must be ≥ 0 (0 is off)") }
        guard topP > 0, topP <= 1 else { throw GenerationError.invalidOption(option: "top_p", value: "\(topP)", reason: "must be in (0, 1] (1 is off)") }
        guard minP >= 0, minP <= 1 else { throw GenerationError.invalidOption(option: "min_p", value: "\(minP)", reason: "must be in [0, 1] (0 is off)") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw GenerationError.invalidOption(option: "repetition_penalty", value: "\(repetitionPenalty)", reason: "must be > 0 (1 is off)")
        }
    }

    public var isGreedy: Bool { temperature == 0 }
}

/// One chosen token with its log-probabilities.
public struct SampledToken: Sendable, Equatable {
    public var token: Int
    /// log softmax of the raw model logits at `token` (temperature 1, no processing): the policy's log π.
    public var logProb: Float
    /// log of the probability the token had in the distribution it was drawn from (after every
    /// processor; for greedy, the penalized logits at temperature 1).
    public var processedLogProb: Float
}

/// Chooses tokens from logit rows. Holds a scratch row; not shared between threads.
public struct Sampler {
    public let options: SamplingOptions
    var work: [Float] = []

    public init(options: SamplingOptions) throws {
        try options.validate()
        self.options = options
    }

    /// Chooses the next token from logits (V,) given the ids seen so far (prompt and output).
    public mutating func choose(logits: UnsafeBufferPointer<Float>, seen: Set<Int>, rng: inout RNG) -> SampledToken {
        let v = logits.count
        let raw = logits.baseAddress!
        if work.count != v { work = [Float](repeating: 0, count: v) }
        let o = options
        return work.withUnsafeMutableBufferPointer { wb in
            let w = wb.baseAddress!
            w.update(from: raw, count: v)
            if o.repetitionPenalty != 1 {
                for id in seen where id >= 0 && id < v {
                    w[id] = w[id] > 0 ? w[id] / o.repetitionPenalty : w[id] * o.repetitionPenalty
                }
            }
            let untouched = o.repetitionPenalty == 1
            if o.isGreedy {
                let t = Kernels.argmax(w, v)
                let rawLogZ = Self.logSumExp(raw, v)
                return SampledToken(token: t, logProb: raw[t] - rawLogZ, processedLogProb: w[t] - (untouched ? rawLogZ : Self.logSumExp(w, v)))
            }
            // With no penalty and T = 1, w is the raw row: its log-normalizer comes out of `draw`.
            let rawLogZ = untouched && o.temperature == 1 ? nil : Self.logSumExp(raw, v)
            if o.temperature != 1 { Kernels.scale(w, 1 / o.temperature, v) }
            let (token, processed, logZ) = Self.draw(w, v, options: o, rng: &rng)
            return SampledToken(token: token, logProb: raw[token] - (rawLogZ ?? logZ), processedLogProb: processed)
        }
    }

    /// Samples from scaled logits w (V,) after top-k, top-p and min-p; returns the token, its
    /// log-probability under the truncated, renormalized distribution, and log Σ exp(w) before
    /// truncation. Overwrites w with exp(w − max).
    static func draw(_ w: UnsafeMutablePointer<Float>, _ v: Int, options o: SamplingOptions, rng: inout RNG) -> (Int, Float, Float) {
        let m = Kernels.max(w, v)
        let total = Kernels.expShiftedSum(w, v, shift: m)
        let logZ = m + Foundation.log(total)
        if o.topK == 0 && o.topP == 1 && o.minP == 0 {
            // No truncation: walk the distribution 16 weights at a time, then within the chunk.
            let u = rng.uniform() * total
            var cumulative: Float = 0
            var chosen = v - 1
            var i = 0
            while i + 16 <= v {
                let s = Kernels.load(w + i).sum()
                if u < cumulative + s { break }
                cumulative += s; i += 16
            }
            while i < v {
                cumulative += w[i]
                if u < cumulative { chosen = i; break }
                i += 1
            }
            while w[chosen] == 0 && chosen > 0 { chosen -= 1 }
            return (chosen, Foundation.log(w[chosen] / total), logZ)
        }
        // Candidates: the top k, or (for top-p) every token heavy enough to matter. Tokens with
        // e < (1 − p)/(2V)·total hold less than (1 − p)/2 of the mass, so top-p never reaches them.
        var candidates: [Int]
        let truncated = o.topK > 0 && o.topK < v
        if truncated {
            candidates = Kernels.topK(w, v, k: o.topK)
        } else if o.topP < 1 {
            let floor = (1 - o.topP) / Float(2 * v) * total
            candidates = (0..<v).filter { w[$0] >= floor }
        } else {
            candidates = Array(0..<v)
        }
        if o.topP < 1 {
            candidates.sort { w[$0] != w[$1] ? w[$0] > w[$1] : $0 < $1 }
            // Top-p measures mass against everything top-k left (all tokens when it is off).
            let mass = truncated ? candidates.reduce(Float(0)) { $0 + w[$1] } : total
            var before: Float = 0, keep = 0
            for id in candidates {
                if keep > 0 && before >= o.topP * mass { break }
                before += w[id]; keep += 1
            }
            candidates.removeLast(candidates.count - keep)
        }
        if o.minP > 0 {
            let top = candidates.reduce(Float(0)) { Swift.max($0, w[$1]) }
            let kept = candidates.filter { w[$0] >= o.minP * top }
            if !kept.isEmpty { candidates = kept }
        }
        let mass = candidates.reduce(Float(0)) { $0 + w[$1] }
        let u = rng.uniform() * mass
        var cumulative: Float = 0
        var chosen = candidates[candidates.count - 1]
        for id in candidates {
            cumulative += w[id]
            if u < cumulative { chosen = id; break }
        }
        return (chosen, Foundation.log(w[chosen] / mass), logZ)
    }

    /// log Σ exp(x[i]) over n values, stably.
    static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float { Kernels.logSumExp(x, n) }
}
