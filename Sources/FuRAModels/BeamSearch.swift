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

    /// The finished hypotheses of `prompt` (up to `maxNewTokens` new ids), best first: the answer
    /// is the first. The same as `search(prompts: [prompt], …)[0]`.
    public func search(prompt: [Int], maxNewTokens: Int, eosTokenIds: Set<Int> = []) throws -> [Hypothesis] {
        try search(prompts: [prompt], maxNewTokens: maxNewTokens, eosTokenIds: eosTokenIds)[0]
    }

    /// The `count` best (parent beam, token, running + log-softmax score) over all beams, best first;
    /// beam b reads logits row `rows[b]` of logits (R, V).
    static func topContinuations(logits: Tensor, rows: [Int], scores: [Double], vocabulary v: Int, count: Int) -> [Candidate] {
        var all: [Candidate] = []
        logits.withUnsafeBufferPointer { pl in
            for (b, base) in scores.enumerated() {
                let row = pl.baseAddress! + rows[b] * v
                let logZ = Double(Sampler.logSumExp(row, v))
                for t in Kernels.topK(row, v, k: min(count, v)) {
                    all.append(Candidate(parent: b, token: t, score: base + (Double(row[t]) - logZ)))
                }
            }
        }
        all.sort { $0.score != $1.score ? $0.score > $1.score : ($0.parent, $0.token) < ($1.parent, $1.token) }
        return Array(all.prefix(count))
    }
}
