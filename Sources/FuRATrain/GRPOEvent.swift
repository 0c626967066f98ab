import Foundation

/// What the GRPO loop reports; the library never prints.
public enum GRPOEvent: Sendable {
    case step(GRPOStepMetrics)
    /// Greedy accuracy on the held-out problems after `step` updates.
    case evaluation(step: Int, accuracy: Double, problems: Int)
    case checkpoint(step: Int, path: String)
}

/// The figures of one GRPO step, written to `metrics.jsonl` under TRL's names.
public struct GRPOStepMetrics: Equatable, Sendable {
    public var step: Int
    public var totalSteps: Int
    /// `reward`: mean total reward of the P·G completions.
    public var reward: Double
    /// `reward_std`: mean standard deviation of the rewards (per group, or of the batch).
    public var rewardStd: Double
    /// `frac_reward_zero_std`.
    public var fractionRewardZeroStd: Double
    /// `rewards/<name>/mean`: each reward function's mean before weighting.
    public var rewardMeans: [String: Double]
    /// `completions/mean_length` in tokens (a stop token counts).
    public var meanCompletionLength: Double
    /// `completions/clipped_ratio`: share of completions that hit `max_new_tokens` without stopping.
    public var clippedRatio: Double
    /// `kl`: masked mean k3 KL to the reference policy (nil when β = 0).
    public var kl: Double?
    /// `clip_ratio`: masked share of tokens whose ratio was clipped (low with A < 0, or high with A > 0).
    public var clipRatio: Double
    /// `loss`: the policy loss, averaged over the passes of the step.
    public var loss: Double
    /// `grad_norm` before clipping (of the last pass).
    public var gradNorm: Double
    public var learningRate: Double
    public var rolloutSeconds: Double
    public var trainSeconds: Double
    /// Generated tokens per rollout second.
    public var rolloutTokensPerSecond: Double
    /// All tokens of the step (prompts and completions) per second of the whole step.
    public var tokensPerSecond: Double
    public var peakRSSBytes: Int

    /// The JSON object of `metrics.jsonl`.
    public var record: [String: Any] {
        var out: [String: Any] = [
            "step": step, "reward": reward, "reward_std": rewardStd, "frac_reward_zero_std": fractionRewardZeroStd,
            "completions/mean_length": meanCompletionLength, "completions/clipped_ratio": clippedRatio,
            "clip_ratio": clipRatio, "loss": loss, "grad_norm": gradNorm, "learning_rate": learningRate,
            "rollout_seconds": rolloutSeconds, "train_seconds": trainSeconds,
            "rollout_tokens_per_second": rolloutTokensPerSecond, "tokens_per_second": tokensPerSecond, "peak_rss_bytes": peakRSSBytes,
        ]
        if let kl { out["kl"] = kl }
        for (name, mean) in rewardMeans { out["rewards/\(name)/mean"] = mean }
        return out
    }
}
