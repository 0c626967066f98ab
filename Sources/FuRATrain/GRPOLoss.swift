import Foundation

/// The policy loss of GRPO and its derivative with respect to each token's log-probability, written by
/// hand so the model's backward receives `∂L/∂log p` per token.
///
/// Both variants normalize the same way (Docs/tracks.md §7 step 6, TRL `loss_type="grpo"`): the per-token losses
/// of a completion are averaged over its tokens, then the completions are averaged:
/// `L = (1/S) Σ_s (1/max(1, n_s)) Σ_t ℓ_st`, with S the completions of the optimizer update.
///
/// - `reference`: `ℓ = −r·A`, `r = exp(log p − log p_old)` (no clipping, no KL; with one update per
///   rollout batch r ≡ 1 and the gradient is REINFORCE with the group-mean baseline).
/// - `grpo` (TRL): `ℓ = −min(r·A, clip(r, 1−ε, 1+ε_high)·A) + β·KL`, with the k3 estimator
///   `KL = exp(log p_ref − log p) − (log p_ref − log p) − 1` against the reference policy.
public struct GRPOLoss: Codable, Equatable, Sendable {
    /// Which loss.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case reference
        case grpo
    }

    public var kind: Kind
    /// Lower clip ε (`grpo` only; TRL default 0.2).
    public var epsilon: Double
    /// Upper clip ε_high (nil: equal to ε).
    public var epsilonHigh: Double?
    /// KL coefficient β (`grpo` only; 0: no reference policy is evaluated).
    public var beta: Double

    public init(kind: Kind = .reference, epsilon: Double = 0.2, epsilonHigh: Double? = nil, beta: Double = 0) {
        self.kind = kind; self.epsilon = epsilon; self.epsilonHigh = epsilonHigh; self.beta = beta
    }

    enum CodingKeys: String, CodingKey { case kind, epsilon, epsilonHigh = "epsilon_high", beta }

    /// Reads a partial JSON object: missing keys keep their defaults.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? kind
        epsilon = try c.decodeIfPresent(Double.self, forKey: .epsilon) ?? epsilon
        epsilonHigh = try c.decodeIfPresent(Double.self, forKey: .epsilonHigh)
        beta = try c.decodeIfPresent(Double.self, forKey: .beta) ?? beta
    }

    /// Checks the options; the reference loss has no clipping and no KL, so β > 0 is refused there.
    public func validate() throws {
        guard epsilon >= 0, epsilon.isFinite else { throw TrainingError.invalidOption(option: "--epsilon", value: "\(epsilon)", reason: "must be ≥ 0") }
        if let high = epsilonHigh, !(high >= 0 && high.isFinite) {
            throw TrainingError.invalidOption(option: "--epsilon-high", value: "\(high)", reason: "must be ≥ 0")
        }
        guard beta >= 0, beta.isFinite else { throw TrainingError.invalidOption(option: "--beta", value: "\(beta)", reason: "must be ≥ 0") }
        if kind == .reference && beta > 0 {
            throw TrainingError.invalidOption(option: "--beta", value: "\(beta)", reason: "the reference loss has no KL term; use --loss grpo")
        }
    }

    /// Whether the reference policy's log-probabilities are needed.
    public var needsReference: Bool { kind == .grpo && beta > 0 }

    /// One token's loss, its derivative, and TRL's diagnostics.
    public struct Token: Equatable, Sendable {
        /// ℓ.
        public var loss: Double
        /// ∂ℓ/∂log p.
        public var dLogProbability: Double
        /// `r < 1−ε` with `A < 0` (TRL `clip_ratio/low`).
        public var lowClipped: Bool
        /// `r > 1+ε_high` with `A > 0` (TRL `clip_ratio/high`).
        public var highClipped: Bool
        /// The k3 KL estimate (0 without a reference).
        public var kl: Double
    }

    /// ℓ and ∂ℓ/∂log p of one token: `logProbability` under the current policy, `old` under the policy
    /// that sampled it, `reference` under the reference policy (nil unless `needsReference`).
    public func token(logProbability lp: Double, old: Double, reference: Double?, advantage a: Double) -> Token {
        let ratio = exp(lp - old)
        switch kind {
        case .reference:
            return Token(loss: -ratio * a, dLogProbability: -ratio * a, lowClipped: false, highClipped: false, kl: 0)
        case .grpo:
            let low = 1 - epsilon, high = 1 + (epsilonHigh ?? epsilon)
            let clipped = min(max(ratio, low), high)
            let unclippedTerm = ratio * a, clippedTerm = clipped * a
            // −min(u, c): the gradient flows through u when u < c, or when r is inside [low, high]
            // (then u = c and torch splits the tie between two equal derivatives); else it is zero.
            let inside = ratio >= low && ratio <= high
            var loss = -min(unclippedTerm, clippedTerm)
            var d = (unclippedTerm < clippedTerm || inside) ? -ratio * a : 0
            var kl = 0.0
            if beta > 0, let reference {
                let delta = reference - lp
                kl = exp(delta) - delta - 1
                loss += beta * kl
                d += beta * (1 - exp(delta))
            }
            return Token(loss: loss, dLogProbability: d, lowClipped: ratio < low && a < 0, highClipped: ratio > high && a > 0, kl: kl)
        }
    }

    /// The weight of each token of a completion of `tokens` tokens in an update of `sequences` completions.
    public static func tokenWeight(tokens: Int, sequences: Int) -> Double {
        1 / (Double(max(1, sequences)) * Double(max(1, tokens)))
    }

    /// The loss of a whole update and `∂L/∂log p` of every token (the simple reference the model-level
    /// gradient is tested against).
    ///
    /// - Parameters: per completion s, its tokens' `logProbabilities[s]`, `old[s]`, `reference[s]`
    ///   (same lengths) and its advantage.
    public func loss(logProbabilities: [[Double]], old: [[Double]], reference: [[Double]]?,
                     advantages: [Double]) -> (loss: Double, gradient: [[Double]]) {
        var total = 0.0
        var gradient = [[Double]]()
        for (s, row) in logProbabilities.enumerated() {
            let w = Self.tokenWeight(tokens: row.count, sequences: logProbabilities.count)
            var g = [Double](repeating: 0, count: row.count)
            for (t, lp) in row.enumerated() {
                let token = token(logProbability: lp, old: old[s][t], reference: reference?[s][t], advantage: advantages[s])
                total += w * token.loss
                g[t] = w * token.dLogProbability
            }
            gradient.append(g)
        }
        return (total, gradient)
    }
}
