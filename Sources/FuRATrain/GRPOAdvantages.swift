/// How advantages are scaled by the spread of the rewards (TRL's `scale_rewards`).
public enum GRPORewardScaling: String, Codable, Sendable, CaseIterable {
    /// Divide by the (unbiased) standard deviation of the prompt's group, plus 1e-4.
    case group
    /// Divide by the (unbiased) standard deviation of the whole batch, plus 1e-4.
    case batch
    /// No scaling (the reference's `R − mean_over_group(R)`, Docs/tracks.md §7 step 3).
    case none
}

/// Group-relative advantages of P prompts × G completions, and the reward statistics TRL logs.
///
/// Rewards and advantages are prompt-major: index `p·G + g` is completion g of prompt p.
public struct GRPOAdvantages: Equatable, Sendable {
    /// P·G advantages.
    public var advantages: [Double]
    /// Mean reward of the batch (`reward`).
    public var meanReward: Double
    /// Mean of the per-completion standard deviation used for scaling (`reward_std`): the group std
    /// under `group` and `none`, the batch std under `batch`.
    public var rewardStd: Double
    /// Share of completions whose std is (close to) zero (`frac_reward_zero_std`); under `group` and
    /// `none` this is the share of groups in which every completion earned the same reward.
    public var fractionZeroStd: Double

    /// Computes `A = R − mean_group(R)`, divided by `std + 1e-4` unless `scaling` is `none`.
    ///
    /// - Parameters: `rewards` P·G values, prompt-major; `groupSize` G ≥ 1.
    public init(rewards: [Double], groupSize: Int, scaling: GRPORewardScaling) throws {
        guard groupSize >= 1, !rewards.isEmpty, rewards.count % groupSize == 0 else {
            throw TrainingError.invalidOption(option: "--group-size", value: "\(groupSize)",
                                              reason: "\(rewards.count) rewards are not a positive multiple of the group size")
        }
        let groups = rewards.count / groupSize
        var means = [Double](repeating: 0, count: groups), stds = [Double](repeating: 0, count: groups)
        for p in 0..<groups {
            let slice = rewards[(p * groupSize)..<((p + 1) * groupSize)]
            means[p] = slice.reduce(0, +) / Double(groupSize)
            stds[p] = Self.unbiasedStd(Array(slice))
        }
        let batchStd = Self.unbiasedStd(rewards)
        var advantages = [Double](repeating: 0, count: rewards.count)
        var stdSum = 0.0, zeroStd = 0
        for (i, r) in rewards.enumerated() {
            let std = scaling == .batch ? batchStd : stds[i / groupSize]
            advantages[i] = r - means[i / groupSize]
            if scaling != .none { advantages[i] /= std + 1e-4 }
            stdSum += std
            if abs(std) <= 1e-8 { zeroStd += 1 }
        }
        self.advantages = advantages
        meanReward = rewards.reduce(0, +) / Double(rewards.count)
        rewardStd = stdSum / Double(rewards.count)
        fractionZeroStd = Double(zeroStd) / Double(rewards.count)
    }

    /// `torch.std` (Bessel-corrected); 0 for fewer than two values (TRL's convention for G = 1).
    static func unbiasedStd(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        return (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
    }
}
