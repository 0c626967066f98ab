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

extension GRPOCompletion {
    /// Every process's `completions` (each process's part of a step's list), concatenated in rank order on every
    /// process, without old log-probabilities (a data-parallel step takes the first pass's own: sampling-time ones
    /// can differ in the last bit with the rows a process decodes together). Each completion travels as its id
    /// count, whether it stopped, and its ids (exact in `Double`).
    public static func gather(_ completions: [GRPOCompletion], over collective: any Collective) throws -> [GRPOCompletion] {
        guard collective.size > 1 else { return completions }
        let flat = completions.flatMap { c -> [Double] in [Double(c.ids.count), c.stopped ? 1 : 0] + c.ids.map(Double.init) }
        return try collective.gather(flat).flatMap { part -> [GRPOCompletion] in
            var gathered = [GRPOCompletion](), at = 0
            while at < part.count {
                let n = Int(part[at])
                gathered.append(GRPOCompletion(ids: part[(at + 2)..<(at + 2 + n)].map { Int($0) }, stopped: part[at + 1] != 0, oldLogProbabilities: nil))
                at += 2 + n
            }
            return gathered
        }
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

    /// The engine's options for one rollout seeded by `seed` whose first sequence has index `firstSequence`.
    public func generationOptions(seed: UInt64, firstSequence: Int = 0) -> GenerationOptions {
        let sampling = temperature == 0 ? SamplingOptions.greedy : SamplingOptions(temperature: temperature, topP: topP)
        var options = GenerationOptions(maxNewTokens: maxNewTokens, sampling: sampling, seed: seed, eosTokenIds: stopIds, maxBatch: maxBatch)
        options.firstSequenceIndex = firstSequence
        return options
    }

    /// G completions of each prompt, prompt-major (index p·G + g).
    ///
    /// - Parameters: `prompts` P id lists (each ≥ 1 id, lengths may differ); `model` the policy to sample
    ///   (its current weights are read; build a new `GenerationModel` after they change); `firstSequence` the index
    ///   of this call's first sequence in the step's whole list (a process sampling a part of it), which numbers
    ///   the sequences' generators.
    public func sample(model: GenerationModel, prompts: [[Int]], copies: Int, seed: UInt64, firstSequence: Int = 0) throws -> [GRPOCompletion] {
        guard !prompts.isEmpty, prompts.allSatisfy({ !$0.isEmpty }), copies >= 1 else {
            throw TrainingError.invalidOption(option: "prompts", value: "\(prompts.map(\.count)) × \(copies)",
                                              reason: "need at least one non-empty prompt and ≥ 1 completion each")
        }
        let repeated = prompts.flatMap { Array(repeating: $0, count: copies) }
        let generator = Generator(model: model)
        generator.keyValuePrecision = keyValuePrecision
        let results = try generator.generate(prompts: repeated, options: generationOptions(seed: seed, firstSequence: firstSequence))
        // Untruncated sampling: the processed log-probability is log softmax(z / T) at the token (and
        // log softmax(z) at T = 1), exactly what the loss recomputes; top-p renormalizes over the nucleus.
        let keepsOld = temperature > 0 && topP >= 1
        return results.map { r in
            GRPOCompletion(ids: r.ids, stopped: r.finishReason == .eos, oldLogProbabilities: keepsOld ? r.processedLogProbs : nil)
        }
    }
}
