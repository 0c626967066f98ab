import Foundation
import FuRAModels
import FuRATensor

// Legend: P distinct prompts (any lengths), G completions per prompt, V vocabulary size.

/// One completion of a GRPO rollout.
public struct GRPOCompletion: Equatable, Sendable {
    /// New ids, ending with a stop id when `stopped`.
    public var ids: [Int]
    /// Whether it ended on a stop id (else it hit the new-token limit: TRL's "clipped" completion).
    public var stopped: Bool
    /// Per id: its log-probability under `logits / temperature` at sampling time — the quantity the
    /// policy loss's ratio uses — or nil when the sampling distribution was truncated (top-p < 1), whose
    /// processed log-probabilities are not that quantity; the first pass then takes the policy's own.
    public var oldLogProbabilities: [Float]?

    public init(ids: [Int], stopped: Bool, oldLogProbabilities: [Float]?) {
        self.ids = ids; self.stopped = stopped; self.oldLogProbabilities = oldLogProbabilities
    }
}

/// GRPO rollouts through the shared batched generation engine (`Generator`): the P prompts, each
/// repeated G times, go to the engine as one list; it prefills each distinct prompt once (packed, any
/// lengths) and copies its key/value slot to the repeats, then decodes every unfinished sequence together.
///
/// Each sequence draws from its own generator, seeded in order from `seed`, so a completion depends only
/// on its prompt, its index and the seed — not on the other prompts of the batch.
public struct GRPORollout {
    public var maxNewTokens: Int
    /// 0: greedy.
    public var temperature: Float
    public var topP: Float
    /// Ids that end a completion (kept as its last id).
    public var stopIds: Set<Int>
    /// Sequences decoded together at most.
    public var maxBatch: Int
    /// How the rollout's KV cache holds keys and values (f16: half the attention traffic, not bit-exact).
    public var keyValuePrecision = KVCache.Precision.float32

    public init(maxNewTokens: Int, temperature: Float, topP: Float, stopIds: Set<Int>, maxBatch: Int) {
        self.maxNewTokens = maxNewTokens; self.temperature = temperature; self.topP = topP
        self.stopIds = stopIds; self.maxBatch = maxBatch
    }

    /// The engine's options for one rollout seeded by `seed`.
    public func generationOptions(seed: UInt64) -> GenerationOptions {
        let sampling = temperature == 0 ? SamplingOptions.greedy : SamplingOptions(temperature: temperature, topP: topP)
        return GenerationOptions(maxNewTokens: maxNewTokens, sampling: sampling, seed: seed, eosTokenIds: stopIds, maxBatch: maxBatch)
    }

    /// G completions of each prompt, prompt-major (index p·G + g).
    ///
    /// - Parameters: `prompts` P id lists (each ≥ 1 id, lengths may differ); `model` the policy to sample
    ///   (its current weights are read; build a new `GenerationModel` after they change).
    public func sample(model: GenerationModel, prompts: [[Int]], copies: Int, seed: UInt64) throws -> [GRPOCompletion] {
        guard !prompts.isEmpty, prompts.allSatisfy({ !$0.isEmpty }), copies >= 1 else {
            throw TrainingError.invalidOption(option: "prompts", value: "\(prompts.map(\.count)) × \(copies)",
                                              reason: "need at least one non-empty prompt and ≥ 1 completion each")
        }
        let repeated = prompts.flatMap { Array(repeating: $0, count: copies) }
        let generator = Generator(model: model)
        generator.keyValuePrecision = keyValuePrecision
        let results = try generator.generate(prompts: repeated, options: generationOptions(seed: seed))
        // Untruncated sampling: the processed log-probability is log softmax(z / T) at the token (and
        // log softmax(z) at T = 1), exactly what the loss recomputes; top-p renormalizes over the nucleus.
        let keepsOld = temperature > 0 && topP >= 1
        return results.map { r in
            GRPOCompletion(ids: r.ids, stopped: r.finishReason == .eos, oldLogProbabilities: keepsOld ? r.processedLogProbs : nil)
        }
    }
}
