import Foundation
import FuRAModels
import FuRANN
import FuRATensor

/// The supervised step: a gradient-accumulation window from the data source, the injected objective (masked
/// cross-entropy), one update; the validation loss when due.
public final class SFTStep: TrainingStep {
    public let source: any TrainingBatchSource
    public let objective: any TrainingObjective
    /// Validation batches (empty: no evaluation).
    public var validation: [TokenBatch]
    let model: any LanguageModel
    /// Stops a diverged run (the uniform distribution, or a loss far above its running mean).
    var collapse: CollapseDetector

    public init(model: any LanguageModel, source: any TrainingBatchSource, objective: any TrainingObjective, validation: [TokenBatch]) {
        self.model = model; self.source = source; self.objective = objective; self.validation = validation
        collapse = CollapseDetector(vocabularySize: model.config.vocabSize)
    }

    public func run(step: Int, totalSteps: Int, rng: inout RNG, passes: StepPasses) throws -> TrainingEvent {
        let started = Date()
        try passes.begin()
        let window = try source.window(forStep: step)
        let result = try objective.accumulate(model: model, window: window, rng: &rng, microBatches: passes.microBatches)
        guard result.loss.isFinite else { throw TrainingError.nonFinite(step: step + 1, quantity: "loss", value: result.loss) }
        let update = try passes.update()
        if result.targets > 0 {
            try collapse.check(step: step + 1, loss: result.loss, gradNorm: update.gradNorm, learningRate: update.learningRate)
        }
        let seconds = Date().timeIntervalSince(started)
        return .step(StepMetrics(
            step: step + 1, totalSteps: totalSteps, loss: result.loss, learningRate: update.learningRate,
            tokens: result.tokens, tokensPerSecond: seconds > 0 ? Double(result.tokens) / seconds : 0,
            gradNorm: update.gradNorm, peakRSSBytes: ProcessMemory.peakResidentBytes, seconds: seconds))
    }

    public func evaluation(afterStep step: Int, isLast: Bool, every: Int?) throws -> TrainingEvent? {
        guard !validation.isEmpty, let every, every > 0, step % every == 0 || isLast else { return nil }
        return .evaluation(step: step, validationLoss: try SFTObjective.evaluate(model: model, batches: validation))
    }

    public func cursor(afterSteps steps: Int) -> DataCursor { source.cursor(afterSteps: steps) }

    public static func checkpointEvent(step: Int, path: String) -> TrainingEvent { .checkpoint(step: step, path: path) }
}

/// Supervised fine-tuning on the one loop: windows from an injected source, an injected objective.
public final class Trainer: TrainingLoop<SFTStep> {
    public var source: any TrainingBatchSource { stepObjective.source }
    public var objective: any TrainingObjective { stepObjective.objective }
    /// Validation batches (empty: no evaluation).
    public var validation: [TokenBatch] {
        get { stepObjective.validation }
        set { stepObjective.validation = newValue }
    }

    public init(model: any LanguageModel, source: any TrainingBatchSource, objective: any TrainingObjective,
                options: Options, validation: [TokenBatch] = [], onEvent: @escaping (TrainingEvent) -> Void = { _ in }) {
        super.init(model: model, step: SFTStep(model: model, source: source, objective: objective, validation: validation),
                   options: options, onEvent: onEvent)
    }
}
