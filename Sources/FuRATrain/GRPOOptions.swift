import FuRAModels
import FuRATensor

/// Everything a GRPO run is configured by (the CLI only builds this; checked in `validate`).
///
/// Defaults follow Docs/recipes.md §4 where they fit a CPU: AdamW betas (0.9, 0.999), eps 1e-8, weight decay 0,
/// constant learning rate 1e-4 (the paper rows' value; the launch script's default is 9e-5), gradient
/// clipping 1.0, temperature 1, top-p 1, one epoch per step, group size 8. Prompts per step, new
/// tokens and the micro-batch are smaller than the reference's 32 / 1024 / 2 so a run fits a CPU.
public struct GRPOOptions: Codable, Equatable, Sendable {
    public var steps = 30
    public var promptsPerStep = 8
    public var groupSize = 8
    public var maxNewTokens = 48
    public var temperature = 1.0
    public var topP = 1.0
    public var learningRate = 1e-4
    public var adamW = AdamW.Options(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
    /// nil: no clipping.
    public var maxGradNorm: Double? = 1.0
    /// Optimizer updates per rollout batch (each a full pass over all completions; ratio ≠ 1 after the first).
    public var epochsPerStep = 1
    /// Sequences per forward/backward (memory only: all micro-batches of a pass make one update).
    public var microBatchSize = 8
    /// Sequences decoded together in a rollout.
    public var rolloutBatchSize = 64
    /// Weights (and, for `bf16-compute`, arithmetic) of the rollout engine. Anything but f32 samples from a
    /// slightly different policy, so the old log-probs are then recomputed in f32 by the first update pass.
    public var rolloutPrecision = GenerationWeightPrecision.float32
    /// Keys and values of the rollout cache: f32 (exact) or f16 (half the attention memory traffic; like a
    /// non-f32 `rolloutPrecision`, the old log-probs are then recomputed in f32).
    public var rolloutKeyValuePrecision = KVCache.Precision.float32

    /// The arithmetic of the update's large products (`fura grpo --precision`, `ComputePrecision`): at bf16 the
    /// trainer's log-probs are no longer the f32 engine's, so the old log-probs are recomputed by the first pass.
    public var precision = ComputePrecision.f32

    /// Whether rollouts compute exactly what the trainer computes (so sampling-time log-probs are the policy's).
    public var rolloutsAreExact: Bool {
        rolloutPrecision == .float32 && rolloutKeyValuePrecision == .float32 && precision == .f32
    }
    public var seed: UInt64 = 42
    /// Held-out accuracy every this many steps (0: only at the start and the end).
    public var evalEvery = 0
    /// Held-out problems evaluated (greedy).
    public var evalLimit = 32
    public var loss = GRPOLoss()
    public var scaleRewards = GRPORewardScaling.none
    /// Checkpoint every this many steps (0: only at the end).
    public var saveEvery = 0
    public var keepCheckpoints = 2

    public init() {}

    enum CodingKeys: String, CodingKey {
        case steps, promptsPerStep = "prompts_per_step", groupSize = "group_size", maxNewTokens = "max_new_tokens"
        case temperature, topP = "top_p", learningRate = "learning_rate", adamW = "adamw", maxGradNorm = "max_grad_norm"
        case epochsPerStep = "epochs_per_step", microBatchSize = "micro_batch_size", rolloutBatchSize = "rollout_batch_size"
        case rolloutPrecision = "rollout_precision", rolloutKeyValuePrecision = "rollout_kv"
        case seed, evalEvery = "eval_every", evalLimit = "eval_limit", loss, scaleRewards = "scale_rewards"
        case saveEvery = "save_every", keepCheckpoints = "keep_checkpoints", precision
    }

    /// Reads a partial JSON object: missing keys keep their defaults.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? steps
        promptsPerStep = try c.decodeIfPresent(Int.self, forKey: .promptsPerStep) ?? promptsPerStep
        groupSize = try c.decodeIfPresent(Int.self, forKey: .groupSize) ?? groupSize
        maxNewTokens = try c.decodeIfPresent(Int.self, forKey: .maxNewTokens) ?? maxNewTokens
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature) ?? temperature
        topP = try c.decodeIfPresent(Double.self, forKey: .topP) ?? topP
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? learningRate
        adamW = try c.decodeIfPresent(AdamW.Options.self, forKey: .adamW) ?? adamW
        if c.contains(.maxGradNorm) { maxGradNorm = try c.decodeIfPresent(Double.self, forKey: .maxGradNorm) }
        epochsPerStep = try c.decodeIfPresent(Int.self, forKey: .epochsPerStep) ?? epochsPerStep
        microBatchSize = try c.decodeIfPresent(Int.self, forKey: .microBatchSize) ?? microBatchSize
        rolloutBatchSize = try c.decodeIfPresent(Int.self, forKey: .rolloutBatchSize) ?? rolloutBatchSize
        rolloutPrecision = try c.decodeIfPresent(GenerationWeightPrecision.self, forKey: .rolloutPrecision) ?? rolloutPrecision
        rolloutKeyValuePrecision = try c.decodeIfPresent(KVCache.Precision.self, forKey: .rolloutKeyValuePrecision) ?? rolloutKeyValuePrecision
        precision = try c.decodeIfPresent(ComputePrecision.self, forKey: .precision) ?? precision
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery) ?? evalEvery
        evalLimit = try c.decodeIfPresent(Int.self, forKey: .evalLimit) ?? evalLimit
        loss = try c.decodeIfPresent(GRPOLoss.self, forKey: .loss) ?? loss
        scaleRewards = try c.decodeIfPresent(GRPORewardScaling.self, forKey: .scaleRewards) ?? scaleRewards
        saveEvery = try c.decodeIfPresent(Int.self, forKey: .saveEvery) ?? saveEvery
        keepCheckpoints = try c.decodeIfPresent(Int.self, forKey: .keepCheckpoints) ?? keepCheckpoints
    }

    /// Checks every value once; the error names the flag.
    public func validate() throws {
        func positive(_ value: Int, _ flag: String) throws {
            guard value >= 1 else { throw TrainingError.invalidOption(option: flag, value: "\(value)", reason: "must be ≥ 1") }
        }
        try positive(steps, "--steps"); try positive(promptsPerStep, "--prompts-per-step"); try positive(groupSize, "--group-size")
        try positive(maxNewTokens, "--max-new-tokens"); try positive(epochsPerStep, "--epochs-per-step")
        try positive(microBatchSize, "--micro-batch-size"); try positive(rolloutBatchSize, "--rollout-batch-size")
        guard evalEvery >= 0, evalLimit >= 0, saveEvery >= 0, keepCheckpoints >= 1 else {
            throw TrainingError.invalidOption(option: "--eval-every/--eval-limit/--save-every", value: "\(evalEvery)/\(evalLimit)/\(saveEvery)", reason: "must be ≥ 0")
        }
        guard temperature > 0, temperature.isFinite else {
            throw TrainingError.invalidOption(option: "--temperature", value: "\(temperature)", reason: "rollouts need a temperature > 0")
        }
        guard topP > 0, topP <= 1 else { throw TrainingError.invalidOption(option: "--top-p", value: "\(topP)", reason: "must be in (0, 1]") }
        guard learningRate >= 0, learningRate.isFinite else {
            throw TrainingError.invalidOption(option: "--lr", value: "\(learningRate)", reason: "must be ≥ 0")
        }
        guard adamW.beta1 >= 0, adamW.beta1 < 1, adamW.beta2 >= 0, adamW.beta2 < 1 else {
            throw TrainingError.invalidOption(option: "--optimizer-betas", value: "\(adamW.beta1),\(adamW.beta2)", reason: "each beta must be in [0, 1)")
        }
        if let norm = maxGradNorm, !(norm > 0) {
            throw TrainingError.invalidOption(option: "--max-grad-norm", value: "\(norm)", reason: "must be > 0 (omit it for no clipping)")
        }
        guard rolloutPrecision != .gguf else {
            throw TrainingError.invalidOption(option: "--rollout-precision", value: rolloutPrecision.rawValue,
                                              reason: "rollouts read the adapted weights, not the file's blocks: use f32, bf16, q8 or bf16-compute")
        }
        try loss.validate()
    }
}
