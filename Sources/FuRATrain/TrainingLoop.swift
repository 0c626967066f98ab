import Foundation
import FuRAModels
import FuRANN
import FuRATensor

/// The one training loop: an injected `TrainingStep` (SFT windows, GRPO rollouts and updates) drives AdamW on the
/// model's trainable parameters under a learning-rate schedule, with optional clipping, update hooks, evaluation,
/// checkpoints (each with the adapter of its weights when `saveAdapter` is set) and a bit-identical resume.
open class TrainingLoop<Step: TrainingStep> {
    /// How the loop runs.
    public struct Options: Sendable {
        /// Optimizer steps of the whole run.
        public var totalSteps: Int
        public var schedule: LearningRateSchedule
        public var adamW: AdamW.Options
        /// Clip the global gradient norm to this (nil: no clipping, the reference's SFT default).
        public var maxGradNorm: Double?
        /// Evaluate every this many steps (nil or 0: the step's own rule; SFT then never evaluates).
        public var evaluateEvery: Int?
        /// Checkpoint every this many steps (nil or 0: only at the end).
        public var saveEvery: Int?
        /// Checkpoints kept.
        public var keepCheckpoints: Int
        /// Where checkpoints go (nil: none are written).
        public var outputDirectory: URL?
        /// Seeds the run's generator (for steps that sample).
        public var seed: UInt64
        /// Parameter groups with their own learning rate (LLaVA's projector), as multiples of the schedule's.
        public var learningRateFactors: [LearningRateFactor] = []

        public init(totalSteps: Int, schedule: LearningRateSchedule, adamW: AdamW.Options, maxGradNorm: Double? = nil,
                    evaluateEvery: Int? = nil, saveEvery: Int? = nil, keepCheckpoints: Int = 2,
                    outputDirectory: URL? = nil, seed: UInt64 = 0) {
            self.totalSteps = totalSteps; self.schedule = schedule; self.adamW = adamW; self.maxGradNorm = maxGradNorm
            self.evaluateEvery = evaluateEvery; self.saveEvery = saveEvery; self.keepCheckpoints = keepCheckpoints
            self.outputDirectory = outputDirectory; self.seed = seed
        }
    }

    public let model: any LanguageModel
    /// The injected step.
    public let stepObjective: Step
    public let options: Options
    /// Called before every micro-batch with the 0-based index of the update it feeds and its global index in the
    /// update's window (reseeds adapter dropout, so neither a resume nor the number of processes changes a draw).
    public var preMicroBatch: ((_ update: Int, _ microBatch: Int) throws -> Void)?
    /// Called after every optimizer update with the count of updates done (BTT `normalize_after_update`).
    public var postUpdate: ((Int) throws -> Void)?
    /// Writes the adapter of the current weights into the given folder (`checkpoint-N/adapter`); nil: none.
    public var saveAdapter: ((URL) throws -> Void)?
    /// Receives every event.
    public var onEvent: (Step.Event) -> Void
    /// The processes this run is shared over (every one runs this loop; rank 0 alone writes checkpoints).
    public var collective: any Collective = SingleProcess()

    /// Steps done.
    public private(set) var step = 0
    public private(set) var optimizer: AdamW
    /// The run's generator, handed to the step and checkpointed.
    public private(set) var rng: RNG

    public init(model: any LanguageModel, step: Step, options: Options, onEvent: @escaping (Step.Event) -> Void = { _ in }) {
        self.model = model
        stepObjective = step
        self.options = options
        self.onEvent = onEvent
        optimizer = AdamW(options: options.adamW)
        rng = RNG(seed: options.seed)
    }

    /// The trainable parameters, in the model's order.
    public var trainableParameters: [(name: String, parameter: Parameter)] {
        model.namedParameters.filter { $0.parameter.trainable }
    }

    /// Continues from the newest complete checkpoint of the output directory; returns its step, or nil when there
    /// is none (then training starts from scratch).
    @discardableResult
    public func resumeFromLatestCheckpoint() throws -> Int? {
        guard let directory = options.outputDirectory, let checkpoint = Checkpoint.latest(in: directory) else { return nil }
        let path = directory.appendingPathComponent(Checkpoint.directoryName(step: checkpoint.state.step)).path
        let cursor = stepObjective.cursor(afterSteps: checkpoint.state.step)
        guard checkpoint.state.cursor == cursor else {
            throw TrainingError.badCheckpoint(path: path, reason: "its data cursor \(checkpoint.state.cursor) does not match this data "
                + "(\(cursor)); resume with the same data, batch size and gradient accumulation")
        }
        guard options.schedule.continues(checkpoint.state.schedule) else {
            throw TrainingError.badCheckpoint(path: path, reason: "its schedule \(checkpoint.state.schedule) differs from this run's \(options.schedule)"
                + " (only a constant schedule may resume with another step count)")
        }
        optimizer = try checkpoint.restore(into: model.namedParameters, path: path)
        optimizer.options = options.adamW
        rng = checkpoint.state.rng
        step = checkpoint.state.step
        return step
    }

    /// Runs until `totalSteps`. Throws `TrainingError.nonFinite` (before the update) when a gradient norm is NaN or
    /// infinite, so no checkpoint ever holds a non-finite value from an update.
    open func run() throws {
        let parameters = trainableParameters
        guard !parameters.isEmpty else {
            throw TrainingError.invalidOption(option: "method", value: "-", reason: "the model has no trainable parameter")
        }
        if step == 0, let event = try stepObjective.initialEvaluation() { onEvent(event) }
        while step < options.totalSteps {
            let index = step
            let microBatches = MicroBatchWindow(parameters: parameters.map(\.parameter), collective: collective) { [self] microBatch in
                try preMicroBatch?(optimizer.stepCount, microBatch)
            }
            let passes = StepPasses(learningRate: options.schedule.learningRate(at: index), microBatches: microBatches, begin: {
                for (_, p) in parameters { p.zeroGradient() }
            }, update: { [self] final in
                let norm = GradientClipping.clip(parameters, maxNorm: options.maxGradNorm)
                guard norm.isFinite else { throw TrainingError.nonFinite(step: index + 1, quantity: "gradient norm", value: norm) }
                let learningRate = options.schedule.learningRate(at: index)
                try optimizer.step(parameters, learningRate: learningRate, learningRateFactors: options.learningRateFactors)
                // A step that overflows the weights stops the run here, before any checkpoint could hold it.
                if let (name, value) = Self.firstNonFinite(parameters) {
                    throw TrainingError.nonFinite(step: index + 1, quantity: "\(name) after the update at learning rate \(learningRate) (lower --lr)", value: value)
                }
                if final { step = index + 1 }
                try postUpdate?(optimizer.stepCount)
                return StepPasses.Update(gradNorm: norm, learningRate: learningRate)
            })
            let event = try stepObjective.run(step: index, totalSteps: options.totalSteps, rng: &rng, passes: passes)
            step = index + 1
            onEvent(event)
            let last = step == options.totalSteps
            if let evaluation = try stepObjective.evaluation(afterStep: step, isLast: last, every: options.evaluateEvery) {
                onEvent(evaluation)
            }
            if options.outputDirectory != nil, last || (options.saveEvery.map { $0 > 0 && step % $0 == 0 } ?? false) {
                try saveCheckpoint()
            }
        }
    }

    /// The first trainable tensor holding NaN or ±∞, with that value.
    static func firstNonFinite(_ parameters: [(name: String, parameter: Parameter)]) -> (String, Double)? {
        for (name, p) in parameters {
            if let bad = p.value.storage.first(where: { !$0.isFinite }) { return (name, Double(bad)) }
        }
        return nil
    }

    /// Writes `checkpoint-<step>` now (with `adapter/` inside when `saveAdapter` is set), atomically; on rank 0 only.
    @discardableResult
    public func saveCheckpoint() throws -> URL? {
        guard let directory = options.outputDirectory, collective.writesFiles else { return nil }
        let checkpoint = Checkpoint(step: step, schedule: options.schedule, optimizer: optimizer, rng: rng,
                                    cursor: stepObjective.cursor(afterSteps: step), parameters: trainableParameters)
        let writeAdapter = saveAdapter
        let url = try checkpoint.write(into: directory, keep: options.keepCheckpoints) { folder in
            try writeAdapter?(folder.appendingPathComponent("adapter"))
        }
        onEvent(Step.checkpointEvent(step: step, path: url.path))
        return url
    }
}
