import ArgumentParser
import Foundation
import FuRA
import FuRAFormats
import FuRATensor
import FuRAMPI
import FuRAModels
import FuRATrain

/// `fura train`: supervised fine-tuning with FuRA or a baseline.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a model on instruction data (LLM-Adapters JSON or JSONL) with FuRA or a baseline.",
        discussion: """
        Defaults follow the reference recipes (Docs/recipes.md §2): FuRA lr 2e-4, betas 0.9/0.95, weight decay 0, linear schedule \
        with warmup 0.03, batch 8 × 2, 3 epochs, seed 43. A --config file (YAML, or JSON by a .json name) may set any \
        option with its snake_case name (max_seq_len, grad_accum, …); unknown keys are errors; flags override it. DIR receives config.json, metrics.jsonl, loss.svg and \
        checkpoint-N/ directories; --resume continues from the newest complete checkpoint, bit-identically. \
        `mpirun -np N fura train …` shares every step's micro-batches over N processes (see --distributed); \
        the adapter equals one process's with N × --grad-accum, bit for bit.
        """)

    @Option(help: "Model: a GGUF file or an HF directory.") var model: String?
    @Option(help: "Training data: LLM-Adapters JSON list, or JSONL with text, prompt/completion or messages.") var data: String?
    @Option(help: "Run directory.") var output: String?
    @Option(help: "Optimizer steps (replaces --epochs).") var iters: Int?
    @Option(help: "Passes over the data (default 3).") var epochs: Int?
    @Option(help: "Micro-batch size (default 8).") var batchSize: Int?
    @Option(help: "Gradient-accumulation steps (default 2).") var gradAccum: Int?
    @Option(help: "Peak learning rate.") var lr: Double?
    @Option(help: "linear | cosine | constant (default linear).") var schedule: String?
    @Option(help: "Warmup: steps (≥ 1) or a fraction of all steps (< 1; default 0.03).") var warmup: String?
    @Option(help: "Decoupled weight decay.") var weightDecay: Double?
    @Option(help: "Adam betas as \"b1,b2\" (default 0.9,0.95).") var betas: String?
    @Option(help: "Clip the global gradient norm (default: no clipping, as the reference).") var maxGradNorm: Double?
    @Option(help: "Truncate sequences to this many tokens (default 2048).") var maxSeqLen: Int?
    @Option(help: "Seed of the split and the data order (default 43).") var seed: Int?
    @Option(help: "Validation data file (instead of holding out --val-size examples).") var valData: String?
    @Option(help: "Examples held out for validation (default: 5 % of the data, at most 100 for FuRA and 120 for the baselines).") var valSize: Int?
    @Option(help: "Evaluate the validation loss every N steps (0: never).") var evalEvery: Int?
    @Option(help: "Write a checkpoint every N steps (0: only at the end; default 500).") var saveEvery: Int?
    @Option(help: "Checkpoints to keep (default 2).") var keepCheckpoints: Int?
    @Flag(inversion: .prefixedNo, help: "Recompute activations in backward to save memory (default on).") var gradientCheckpointing: Bool?
    @Option(help: "Threads for matrix products (default: all cores).") var threads: Int?
    @Option(help: ArgumentHelp("f32 | bf16: the arithmetic of the large products (default bf16 where the CPU has AVX512-BF16, else f32; here \(ComputePrecision.trainingDefault.rawValue)).",
                               discussion: "bf16 multiplies frozen weights, frozen FuRA cores, the LM head and full fine-tuning's weights in bf16 with f32 sums (AVX512-BF16 where the CPU has it: \(PanelMatrix.hasBFloat16DotInstructions ? "this one does" : "this one does not, so bf16 runs on a slower portable path")) and keeps the MLPs' gate and up activations in bf16; trainable factors, gradients, losses and AdamW stay f32 (f32 master weights), as PyTorch's bf16 autocast. f32 is the exact twin.")) var precision: String?
    @Flag(help: "Continue from the newest complete checkpoint in the run directory.") var resume = false
    @Flag(help: "Take loss on the prompt tokens too.") var trainOnInputs = false
    @Option(help: "Config file, YAML or JSON, with the flags' names in snake_case (flags override it).") var config: String?
    @OptionGroup(title: "Method") var methodOptions: MethodOptionGroup
    @OptionGroup(title: "Visual instruction tuning (LLaVA)") var visionOptions: VisionOptionGroup
    @OptionGroup(title: "Processes") var distributedOptions: DistributedOptionGroup

    /// The flags that were given, as config keys.
    func overrides() throws -> [String: Any] {
        var o = [String: Any]()
        func set(_ key: String, _ value: Any?) { if let value { o[key] = value } }
        set("model", model); set("data", data); set("output", output); set("iters", iters)
        set("epochs", epochs); set("batch_size", batchSize); set("grad_accum", gradAccum); set("lr", lr)
        set("schedule", schedule); set("weight_decay", weightDecay); set("max_grad_norm", maxGradNorm)
        set("max_seq_len", maxSeqLen); set("seed", seed); set("val_data", valData); set("val_size", valSize)
        set("eval_every", evalEvery); set("save_every", saveEvery); set("keep_checkpoints", keepCheckpoints)
        set("gradient_checkpointing", gradientCheckpointing); set("threads", threads); set("precision", precision)
        for (key, value) in methodOptions.overrides { o[key] = value }
        for (key, value) in visionOptions.overrides { o[key] = value }
        if resume { o["resume"] = true }
        if trainOnInputs { o["train_on_inputs"] = true }
        if let warmup {
            switch try LearningRateSchedule.Warmup(parsing: warmup) {
            case let .steps(n): o["warmup"] = n
            case let .fraction(f): o["warmup"] = f
            }
        }
        if let betas {
            let values = betas.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == 2, let b1 = values[0], let b2 = values[1] else {
                throw TrainingError.invalidOption(option: "betas", value: betas, reason: "expected two numbers like 0.9,0.95")
            }
            o["betas"] = [b1, b2]
        }
        if let schedule, LearningRateSchedule.Kind(rawValue: schedule) == nil {
            throw TrainingError.invalidOption(option: "schedule", value: schedule, reason: "expected linear, cosine or constant")
        }
        return o
    }

    func run() throws {
        let started = Date()
        do {
            let resolved: TrainConfig
            if let config {
                // YAML or JSON with the same keys.
                let file = try ConfigFile(path: config)
                resolved = try TrainConfig.resolve(configFile: file, overrides: overrides())
            } else {
                resolved = try TrainConfig.resolve(file: nil, filePath: "flags", overrides: overrides())
            }
            let collective = try distributedOptions.start(threads: resolved.threads)
            print(String(decoding: try resolved.json(), as: UTF8.self))
            if let threads = resolved.threads { Threading.setThreadCount(threads) }
            try RunDirectory.prepare(resolved.output)
            // Stage 1 of a visual run trains the projector alone: the language model stays as it is.
            let projectorOnly = resolved.vision.isMultimodal && resolved.vision.resolvedStage == 1
            let (loaded, tokenizer, setup) = try prepareModel(resolved, applyMethod: !projectorOnly)
            print(setup?.summary ?? "stage 1: the language model is frozen; the projector trains")
            let vision = try resolved.vision.isMultimodal ? MultimodalRunSetup(config: resolved, language: loaded.model, tokenizer: tokenizer) : nil
            let display = TrainProgressDisplay()
            let run = try SFTRun(config: resolved, model: vision?.model ?? loaded.model, tokenizer: tokenizer,
                                 loadExamples: vision.map { $0.data.load(path:) }, collective: collective) { display.show($0) }
            run.trainer.preMicroBatch = setup?.preMicroBatch
            run.trainer.postUpdate = setup?.postUpdate
            if let setup { run.trainer.saveAdapters(of: setup.method, baseModel: resolved.model) }
            if let vision {
                let methodAdapter = run.trainer.saveAdapter
                run.trainer.saveAdapter = { url in try methodAdapter?(url); try vision.save(into: url) }
                let (images, seconds) = try vision.computeFeatures { done, total in
                    if done % 200 == 0 || done == total { print("vision features: \(done)/\(total) images") }
                }
                print(String(format: "vision tower: %d images in %.1f s (%.1f images/s, %d px, %d rows each)", images, seconds,
                             seconds > 0 ? Double(images) / seconds : 0, vision.processor.size, vision.data.imageRows))
            }
            for warning in run.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            if let step = run.resumedAtStep { print("resumed from checkpoint-\(step)") }
            print("train \(run.dataset.train.count) examples, validation \(run.dataset.validation.count), "
                + "\(run.trainer.options.totalSteps) optimizer steps (\(run.dataset.stepsPerEpoch) per epoch), "
                + (collective.size > 1 ? "\(collective.size) processes × grad-accum \(resolved.gradAccum) (\(collective.size * resolved.gradAccum) micro-batches a step), "
                    + "\(Threading.threadCount) thread\(Threading.threadCount == 1 ? "" : "s") each, " : "")
                + "\(run.trainer.trainableParameters.reduce(0) { $0 + $1.parameter.count }) trainable parameters")
            try run.run()
            display.finish()
            guard collective.writesFiles else { try collective.finish(); return }
            let summary = RunSummary(kind: vision == nil ? "sft" : "visual-sft-stage\(resolved.vision.resolvedStage)",
                                     method: projectorOnly ? "projector" : resolved.method.rawValue,
                                     baseModel: RunResult.baseModelName(resolved.model),
                                     trainableParameters: run.trainer.trainableParameters.reduce(0) { $0 + $1.parameter.count },
                                     steps: run.trainer.options.totalSteps, wallSeconds: Date().timeIntervalSince(started),
                                     processes: collective.size)
            let adapter = URL(fileURLWithPath: resolved.output).appendingPathComponent("adapter")
            if let setup {
                print("result: " + (try RunResult.write(loaded, method: setup.method, baseModel: resolved.model, into: resolved.output,
                                                        summary: vision == nil ? summary : nil)))
            }
            if let vision {
                try vision.save(into: adapter)
                try summary.write(into: resolved.output)
                print("result: \(adapter.path) (with \(MultimodalRunSetup.projectorFileName))")
            }
            try collective.finish()
            print("done: \(resolved.output)")
        } catch let error as TrainingError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        } catch let error as ConfigFileError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        } catch let error as DistributedError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }
}
