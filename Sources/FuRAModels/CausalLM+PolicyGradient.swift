import FuRANN
import FuRATensor

// Legend: B sequences, T positions, C model dim, V vocabulary size; rows are (B·T) tokens.

extension CausalLM {
    /// Forward and backward of a loss that depends on the model only through the log-probabilities of
    /// the labels: accumulates into every trainable gradient `∇ Σ_(b,t) L_bt(log p_bt)` where the caller
    /// supplies `dLoss(b, t, log p_bt) = ∂L/∂log p_bt` (the policy-gradient seam of GRPO).
    ///
    /// The log-probabilities are those of `logits / temperature` (TRL's convention; temperature 1 is the
    /// plain model). The LM head runs once: each target's weight is computed from its own log-probability
    /// inside the masked cross-entropy, whose gradient with per-target weight `w` is that of `w·(−log p)`,
    /// so `w = −∂L/∂log p`.
    ///
    /// - Parameters: `batch` ids and labels (B, T); labels equal to `TokenBatch.ignoreIndex` take no loss.
    /// - Returns: B rows of T log-probabilities (0 where the label is ignored).
    public func accumulateLogProbabilityGradient(
        _ batch: TokenBatch, temperature: Float = 1, dLoss: (_ sequence: Int, _ position: Int, _ logProbability: Float) -> Float
    ) throws -> [[Float]] {
        let targets = try Self.targets(of: batch)
        var hidden = try forward(ids: batch.ids, lengths: batch.lengths, keepForBackward: true)
        let inverse = 1 / temperature
        if temperature != 1 { hidden.scale(by: inverse) }
        let time = batch.sequenceLength
        let result = try withoutActuallyEscaping(dLoss) { dLoss in
            try MaskedCrossEntropy.evaluate(hidden: hidden, head: lmHead, packedHead: packedHead(), targets: targets, computeGradient: true) { k, lp in
                -dLoss(targets[k].row / time, targets[k].row % time, lp)
            }
        }
        guard var dHidden = result.dHidden else { throw LayerError.noForwardCache(layer: "CausalLM policy gradient") }
        if temperature != 1 { dHidden.scale(by: inverse) }
        try backward(dHidden)
        return Self.grid(result.logProbabilities, targets: targets, batch: batch)
    }

    /// Log-probabilities of the labels under `logits / temperature`, without gradients: B rows of T (0 where ignored).
    public func labelLogProbabilities(_ batch: TokenBatch, temperature: Float) throws -> [[Float]] {
        let targets = try Self.targets(of: batch)
        var hidden = try forward(ids: batch.ids, lengths: batch.lengths, keepForBackward: false)
        if temperature != 1 { hidden.scale(by: 1 / temperature) }
        let result = try MaskedCrossEntropy.evaluate(hidden: hidden, head: lmHead, packedHead: packedHead(), targets: targets, computeGradient: false)
        return Self.grid(result.logProbabilities, targets: targets, batch: batch)
    }

    static func grid(_ values: [Float], targets: [MaskedCrossEntropy.Target], batch: TokenBatch) -> [[Float]] {
        let time = batch.sequenceLength
        var out = [[Float]](repeating: [Float](repeating: 0, count: time), count: batch.batchSize)
        for (k, target) in targets.enumerated() { out[target.row / time][target.row % time] = values[k] }
        return out
    }
}
