import Foundation
import FuRAModels
import FuRANN
import FuRATensor

/// The one training loop: windows from an injected source, an injected objective, AdamW on the
/// trainable parameters, a learning-rate schedule, optional clipping, checkpoints and events.
public final class Trainer {
    /// How the loop runs.
    public struct Options: Sendable {
        /// Optimizer steps of the whole run.
        public var totalSteps: Int
        public var schedule: LearningRateSchedule
        public var adamW: AdamW.Options
        /// Clip the global gradient norm to this (nil: no clipping, the reference's SFT default).
        public var maxGradNorm: Double?
        /// Evaluate every this many steps (nil or 0: never; also at the end when there is validation data).
        public var evaluateEvery: Int?
        /// Checkpoint every this many steps (nil or 0: only at the end).
        public var saveEvery: Int?
        /// Checkpoints kept.
        public var keepCheckpoints: Int
        /// Where checkpoints go (nil: none are written).
        public var outputDirectory: URL?
        /// Seeds the run's generator (for objectives that sample).
        public var seed: UInt64

        public init(totalSteps: Int, schedule: LearningRateSchedule, adamW: AdamW.Options, maxGradNorm: Double? = nil,
                    evaluateEvery: Int? = nil, saveEvery: Int? = nil, keepCheckpoints: Int = 2,
                    outputDirectory: URL? = nil, seed: UInt64 = 0) {
            self.totalSteps = totalSteps; self.schedule = schedule; self.adamW = adamW; self.maxGradNorm = maxGradNorm
            self.evaluateEvery = evaluateEvery; self.saveEvery = saveEvery; self.keepCheckpoints = keepCheckpoints
            self.outputDirectory = outputDirectory; self.seed = seed
        }
    }

    public let model: any LanguageModel
    public let source: any TrainingBatchSource
    public let objective: any TrainingObjective
    public let options: Options
    /// Validation batches (empty: no evaluation).
    public var validation: [TokenBatch]
    /// Called before every optimizer step with its 0-based index (for example to reseed adapter dropout).
    public var preStep: ((Int) throws -> Void)?
    /// Called after every optimizer step with the 1-based step (for example BTT `normalize_after_update`).
    public var postStep: ((Int) throws -> Void)?
    /// Receives every event.
    public var onEvent: (TrainingEvent) -> Void

    /// Optimizer steps done.
    public private(set) var step = 0
    public private(set) var optimizer: AdamW
    /// The run's generator, handed to the objective and checkpointed.
    public private(set) var rng: RNG

    public init(model: any LanguageModel, source: any TrainingBatchSource, objective: any TrainingObjective,
                options: Options, validation: [TokenBatch] = [], onEvent: @escaping (TrainingEvent) -> Void = { _ in }) {
        self.model = model
        self.source = source
        self.objective = objective
        self.options = options
        self.validation = validation
        self.onEvent = onEvent
        optimizer = AdamW(options: options.adamW)
        rng = RNG(seed: options.seed)
    }

    /// The trainable parameters, in the model's order.
    public var trainableParameters: [(name: String, parameter: Parameter)] {
        model.namedParameters.filter { $0.parameter.trainable }
    }

    /// Continues from the newest complete checkpoint of the output directory; returns its step, or nil
    /// when there is none (then training starts from scratch).
    @discardableResult
    public func resumeFromLatestCheckpoint() throws -> Int? {
        guard let directory = options.outputDirectory, let checkpoint = Checkpoint.latest(in: directory) else { return nil }
        let path = directory.appendingPathComponent(Checkpoint.directoryName(step: checkpoint.state.step)).path
        guard checkpoint.state.cursor == source.cursor(afterSteps: checkpoint.state.step) else {
            throw TrainingError.badCheckpoint(path: path, reason: "its data cursor \(checkpoint.state.cursor) does not match this data "
                + "(\(source.cursor(afterSteps: checkpoint.state.step))); resume with the same data, batch size and gradient accumulation")
        }
        guard checkpoint.state.schedule == options.schedule else {
            throw TrainingError.badCheckpoint(path: path, reason: "its schedule \(checkpoint.state.schedule) differs from this run's \(options.schedule)")
        }
        optimizer = try checkpoint.restore(into: model.namedParameters, path: path)
        optimizer.options = options.adamW
        rng = checkpoint.state.rng
        step = checkpoint.state.step
        return step
    }

    /// Runs until `totalSteps`. Throws `TrainingError.nonFinite` (before any update of that step) when the
    /// loss or the gradient norm is NaN or infinite.
    public func run() throws {
        let parameters = trainableParameters
        guard !parameters.isEmpty else {
            throw TrainingError.invalidOption(option: "method", value: "-", reason: "the model has no trainable parameter")
        }
        while step < options.totalSteps {
            let started = Date()
            try preStep?(step)
            for (_, p) in parameters { p.zeroGradient() }
            let window = try source.window(forStep: step)
            let result = try objective.accumulate(model: model, window: window, rng: &rng)
            guard result.loss.isFinite else { throw TrainingError.nonFinite(step: step + 1, quantity: "loss", value: result.loss) }
            let norm = GradientClipping.clip(parameters, maxNorm: options.maxGradNorm)
            guard norm.isFinite else { throw TrainingError.nonFinite(step: step + 1, quantity: "gradient norm", value: norm) }
            let learningRate = options.schedule.learningRate(at: step)
            try optimizer.step(parameters, learningRate: learningRate)
            step += 1
            try postStep?(step)
            let seconds = Date().timeIntervalSince(started)
            onEvent(.step(StepMetrics(
                step: step, totalSteps: options.totalSteps, loss: result.loss, learningRate: learningRate,
                tokens: result.tokens, tokensPerSecond: seconds > 0 ? Double(result.tokens) / seconds : 0,
                gradNorm: norm, peakRSSBytes: ProcessMemory.peakResidentBytes, seconds: seconds)))
            let last = step == options.totalSteps
            if !validation.isEmpty, let every = options.evaluateEvery, every > 0, step % every == 0 || last {
                onEvent(.evaluation(step: step, validationLoss: try SFTObjective.evaluate(model: model, batches: validation)))
            }
            if options.outputDirectory != nil, last || (options.saveEvery.map { $0 > 0 && step % $0 == 0 } ?? false) {
                try saveCheckpoint()
            }
        }
    }

    /// Writes `checkpoint-<step>` now.
    @discardableResult
    public func saveCheckpoint() throws -> URL? {
        guard let directory = options.outputDirectory else { return nil }
        let checkpoint = Checkpoint(step: step, schedule: options.schedule, optimizer: optimizer, rng: rng,
                                    cursor: source.cursor(afterSteps: step), parameters: trainableParameters)
        let url = try checkpoint.write(into: directory, keep: options.keepCheckpoints)
        onEvent(.checkpoint(step: step, path: url.path))
        return url
    }
}
