import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor

/// An SFT run from a resolved config: data, split, schedule, the training loop, records and
/// checkpoints in `config.output`. The model (converted to the method, trainability set) and the
/// tokenizer come from the caller.
///
/// Over several processes (`collective`), `config.gradAccum` is each process's share: an optimizer step takes
/// `gradAccum × processes` micro-batches, so the run equals one process with that accumulation bit for bit.
/// Every process resumes from the same checkpoint; rank 0 alone writes `config.json`, metrics and checkpoints.
public struct SFTRun {
    public let config: TrainConfig
    public let dataset: SFTDataset
    public let trainer: Trainer
    /// The records (nil on the processes that write none).
    public let recorder: RunRecorder?
    /// The step the run resumed from, if it did.
    public let resumedAtStep: Int?
    /// Things the caller should tell the user (for example prompts cut off by `max_seq_len`).
    public let warnings: [String]
    /// The first error writing `metrics.jsonl`, raised by `run()` at the end.
    private let recordError = ErrorBox()

    final class ErrorBox { var error: Error? }

    /// Prepares everything (loads data, resumes when `config.resume`); `onEvent` sees every event after it is recorded.
    /// `loadExamples` reads a data file (default: `SFTRecords`; LLaVA records for a multimodal run).
    public init(config: TrainConfig, model: any LanguageModel, tokenizer: SFTTokenizer,
                loadExamples: ((String) throws -> [SFTExample])? = nil,
                collective: any Collective = SingleProcess(), onEvent: @escaping (TrainingEvent) -> Void = { _ in }) throws {
        try config.validate()
        self.config = config
        let files = try SFTDataFiles.resolve(data: config.data, validation: config.valData)
        let load = loadExamples ?? { try SFTRecords.load(path: $0, tokenizer: tokenizer) }
        let examples = try load(files.train)
        let validation = try files.validation.map { try load($0) }
        dataset = try SFTDataset(examples: examples, validation: validation, valSize: validation == nil ? config.heldOutCount(examples: examples.count) : 0,
                                 tokenizer: tokenizer, batchSize: config.batchSize, gradientAccumulation: config.gradAccum * collective.size,
                                 maxSeqLen: config.maxSeqLen, trainOnInputs: config.trainOnInputs, seed: config.seed)
        let totalSteps = config.iters ?? config.epochs * dataset.stepsPerEpoch
        let directory = URL(fileURLWithPath: config.output)
        var options = Trainer.Options(
            totalSteps: totalSteps,
            schedule: LearningRateSchedule(kind: config.schedule, peakLearningRate: config.lr, warmup: config.warmup, totalSteps: totalSteps),
            adamW: AdamW.Options(beta1: config.betas[0], beta2: config.betas[1], eps: config.eps, weightDecay: config.weightDecay),
            maxGradNorm: config.maxGradNorm, evaluateEvery: config.evalEvery, saveEvery: config.saveEvery,
            keepCheckpoints: config.keepCheckpoints, outputDirectory: directory, seed: config.seed)
        if let projectorLearningRate = config.vision.mmProjectorLr {
            options.learningRateFactors = [LearningRateFactor(prefix: "model.mm_projector.", factor: projectorLearningRate / config.lr)]
        }
        let trainer = Trainer(model: model, source: dataset, objective: SFTObjective(), options: options,
                              validation: config.evalEvery.map { $0 > 0 } == true ? try dataset.validationBatches() : [])
        trainer.collective = collective
        resumedAtStep = config.resume ? try trainer.resumeFromLatestCheckpoint() : nil
        let recorder = collective.writesFiles ? try RunRecorder(directory: directory, resumedAtStep: resumedAtStep) : nil
        let box = recordError
        trainer.onEvent = { event in
            do { try recorder?.record(event) } catch { if box.error == nil { box.error = error } }
            onEvent(event)
        }
        // Examples whose prompt fills max_seq_len have no target and teach nothing; sample the head of the data, and
        // when none of the sample is left, every example: a run with no target at all is refused (it would train on
        // a loss of 0 and exit as if it had worked).
        func targetless(_ examples: ArraySlice<SFTExample>) throws -> Int {
            try examples.filter {
                try $0.tokenized(with: tokenizer, maxSeqLen: config.maxSeqLen, trainOnInputs: config.trainOnInputs).targetCount == 0
            }.count
        }
        let sample = dataset.train.prefix(64)
        let empty = try targetless(sample)
        if empty == sample.count, try targetless(dataset.train[...]) == dataset.train.count {
            throw TrainingError.invalidOption(option: "max-seq-len", value: "\(config.maxSeqLen)",
                                              reason: "every one of the \(dataset.train.count) training examples has its target cut away "
                                                  + "(its prompt fills the length); raise --max-seq-len")
        }
        warnings = empty == 0 ? [] : ["\(empty) of the first \(sample.count) training examples have no target token left after "
            + "truncation to max_seq_len \(config.maxSeqLen); raise --max-seq-len"]
        do { if collective.writesFiles { try config.json().write(to: directory.appendingPathComponent("config.json"), options: .atomic) } } catch {
            throw TrainingError.writeFailed(path: directory.appendingPathComponent("config.json").path, reason: ErrorText.file(error))
        }
        self.trainer = trainer
        self.recorder = recorder
    }

    /// Trains to the end and writes the final loss curve. The last checkpoint holds the trained tensors.
    public func run() throws {
        defer { try? recorder?.writeCurve() }
        try trainer.run()
        if let error = recordError.error { throw error }
    }
}
