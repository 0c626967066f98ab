import FuRAModels
import FuRATensor

/// What one gradient-accumulation window contributed: the loss to report and the tokens seen.
public struct WindowResult: Sendable {
    /// The loss of the window (for SFT, mean cross-entropy over its target tokens).
    public var loss: Double
    /// Non-padding tokens processed.
    public var tokens: Int
    /// Positions that took loss.
    public var targets: Int
    public init(loss: Double, tokens: Int, targets: Int) {
        self.loss = loss; self.tokens = tokens; self.targets = targets
    }
}

/// The loss the training loop optimizes: accumulates gradients of one window into the model.
public protocol TrainingObjective {
    /// Runs forward and backward over `window` through `microBatches` (this process's share of it), leaving the
    /// window's (already normalized) gradient in the trainable parameters. `rng` is the run's generator
    /// (checkpointed), for objectives that sample.
    func accumulate(model: any LanguageModel, window: [TokenBatch], rng: inout RNG, microBatches: MicroBatchWindow) throws -> WindowResult
}

/// Supervised fine-tuning: masked cross-entropy normalized by the number of target tokens of the whole
/// gradient-accumulation window (each micro-batch runs with `lossScale = 1 / targets in the window`; every process
/// counts them from the whole window, so the scale needs no communication).
///
/// A window without any target contributes no gradient and reports loss 0.
public struct SFTObjective: TrainingObjective {
    public init() {}

    public func accumulate(model: any LanguageModel, window: [TokenBatch], rng: inout RNG, microBatches: MicroBatchWindow) throws -> WindowResult {
        let targets = window.reduce(0) { $0 + $1.targetCount }
        let tokens = window.reduce(0) { $0 + $1.lengths.reduce(0, +) }
        guard targets > 0 else { return WindowResult(loss: 0, tokens: tokens, targets: 0) }
        let scale = Float(1 / Double(targets))
        let lossSums = try microBatches.run(count: window.count) { i in
            window[i].targetCount > 0 ? try model.accumulateGradients(window[i], lossScale: scale).lossSum : 0
        }
        return WindowResult(loss: lossSums.reduce(0, +) / Double(targets), tokens: tokens, targets: targets)
    }

    /// Mean cross-entropy over every target of `batches`, without gradients.
    public static func evaluate(model: any LanguageModel, batches: [TokenBatch]) throws -> Double {
        var sum = 0.0
        var count = 0
        for batch in batches {
            let logProbabilities = try model.labelLogProbabilities(batch)
            for (row, labels) in zip(logProbabilities, batch.labels) {
                for (lp, label) in zip(row, labels) where label != TokenBatch.ignoreIndex {
                    sum -= Double(lp)
                    count += 1
                }
            }
        }
        return count > 0 ? sum / Double(count) : .nan
    }
}
