import ArgumentParser
import Foundation
import FuRA
import FuRAEval
import FuRAFormats
import FuRAMPI
import FuRAModels
import FuRANN
import FuRATensor
import FuRATrain

/// `fura grpo`: reinforcement learning on math problems (Track 2, Docs/recipes.md §4) with FuRA or a baseline.
struct GRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo",
        abstract: "Reinforcement learning on math with group-relative advantages (the reference's loop, or TRL's clipped GRPO).",
        discussion: """
        Data: --data FILE (JSON list or JSONL; question in problem/question/instruction, gold in answer, or the last \\boxed{} of
        solution/output; GSM8K "#### N" accepted) or --task arithmetic ("What is a + b?", a and b in 2...30, seeded).
        Prompts: the reference's boxed.prompt bytes, then the model's chat template. Rewards: --rewards accuracy[,format]
        with --reward-weights (summed as TRL does); --answer-mode boxed (the reference) or last-number.
        Rollouts go through the batched generation engine (packed prefill, one prefill per prompt shared by its group).
        --config FILE (YAML, or JSON by a .json name) takes the flags' names in snake_case (max_new_tokens: 48); flags
        override it; unknown keys are errors naming the file and line.
        Writes DIR/config.json (the resolved settings; --config accepts it), DIR/metrics.jsonl (TRL's names),
        DIR/reward.svg, DIR/checkpoint-N/ (each with adapter/) and DIR/adapter/ at the end (--adapter DIR takes it);
        --resume continues bit-identically.
        """)

    @Option(help: "Base model: GGUF file or HF directory (default cache/SmolLM2-135M-Instruct.Q4_1.gguf).") var model: String?
    @Option(help: "Training problems (JSON or JSONL).") var data: String?
    @Option(help: "Built-in task instead of --data: arithmetic.") var task: String?
    @Option(help: "Write the run here (required, by flag or config).") var output: String?
    @OptionGroup(title: "Method") var methodOptions: MethodOptionGroup
    @Option(help: "Config file, YAML or JSON, whose keys are these flags' names in snake_case (max_new_tokens: 48); flags override it; unknown keys are errors.")
    var config: String?
    @Option(help: "GRPO steps (default 30).") var steps: Int?
    @Option(help: "Prompts per step (default 8).") var promptsPerStep: Int?
    @Option(help: "Completions per prompt (default 8).") var groupSize: Int?
    @Option(help: "New tokens per completion (default 48).") var maxNewTokens: Int?
    @Option(help: "Rollout temperature (default 1).") var temperature: Double?
    @Option(help: "Rollout nucleus mass (default 1).") var topP: Double?
    @Option(help: "Learning rate (constant; default 1e-4).") var lr: Double?
    @Option(help: "AdamW betas as b1,b2 (default 0.9,0.999).") var optimizerBetas: String?
    @Option(help: "Global gradient-norm clip (default 1.0; 0 turns it off).") var maxGradNorm: Double?
    @Option(help: "Optimizer updates per rollout batch (default 1).") var epochsPerStep: Int?
    @Option(help: "Sequences per forward/backward (default 8).") var microBatchSize: Int?
    @Option(help: "Seed of prompts, rollouts and adapter initialization (default 42).") var seed: UInt64?
    @Option(help: "Held-out problems (JSON/JSONL); with --task arithmetic, generated ones by default.") var evalData: String?
    @Option(help: "Held-out accuracy every N steps (0: start and end only; default 0).") var evalEvery: Int?
    @Option(help: "Held-out problems evaluated (default 32).") var evalLimit: Int?
    @Option(help: "Checkpoint every N steps (0: at the end; default 0).") var saveEvery: Int?
    @Option(help: "Checkpoints kept (default 2).") var keepCheckpoints: Int?
    @Option(help: "Sequences decoded together in a rollout (default 64).") var rolloutBatchSize: Int?
    @Option(help: "Rollout key/value cache: f32 (default, exact) or f16 (half the attention memory traffic; old log-probs are then recomputed in f32).") var rolloutKv: KVCache.Precision?
    @Option(help: "f32 | bf16: the arithmetic of the update's large products, as `fura train --precision` (default bf16 where the CPU has AVX512-BF16, else f32; here \(ComputePrecision.trainingDefault.rawValue); bf16 recomputes the old log-probs).") var precision: String?
    @Option(help: "Rollout engine weights: f32 (default, exact), bf16, q8, or bf16-compute (bf16 arithmetic on AVX512-BF16: fastest; old log-probs are then recomputed in f32).") var rolloutPrecision: GenerationWeightPrecision?
    @Option(help: "Compute threads (default: all cores).") var threads: Int?
    @Flag(help: "Continue from the newest checkpoint in --output.") var resume = false
    @Option(help: "reference (R − group mean, no clip, no KL; default) or grpo (TRL: clipped ratio, optional KL).") var loss: String?
    @Option(help: "Lower clip ε (grpo; default 0.2).") var epsilon: Double?
    @Option(help: "Upper clip ε_high (grpo; default ε).") var epsilonHigh: Double?
    @Option(help: "group, batch or none (advantage scaling by std; default none).") var scaleRewards: String?
    @Option(help: "KL coefficient β to the reference policy (grpo; default 0).") var beta: Double?
    @Option(help: "Reward functions, comma list of accuracy (default) and format.") var rewards: String?
    @Option(help: "One weight per reward function, comma list (default 1 each).") var rewardWeights: String?
    @Option(help: "boxed (the reference; default) or last-number.") var answerMode: String?
    @OptionGroup(title: "Processes") var distributedOptions: DistributedOptionGroup

    /// The flags that were given, as config keys.
    var overrides: [String: Any] {
        var o = methodOptions.overrides
        func set(_ key: String, _ value: Any?) { if let value { o[key] = value } }
        set("model", model); set("data", data); set("task", task); set("output", output); set("steps", steps)
        set("prompts_per_step", promptsPerStep); set("group_size", groupSize); set("max_new_tokens", maxNewTokens)
        set("temperature", temperature); set("top_p", topP); set("lr", lr); set("optimizer_betas", optimizerBetas)
        set("max_grad_norm", maxGradNorm); set("epochs_per_step", epochsPerStep); set("micro_batch_size", microBatchSize)
        set("seed", seed); set("eval_data", evalData); set("eval_every", evalEvery); set("eval_limit", evalLimit)
        set("save_every", saveEvery); set("keep_checkpoints", keepCheckpoints); set("rollout_batch_size", rolloutBatchSize)
        set("rollout_kv", rolloutKv?.rawValue); set("rollout_precision", rolloutPrecision?.rawValue); set("threads", threads)
        set("precision", precision)
        set("loss", loss); set("epsilon", epsilon); set("epsilon_high", epsilonHigh); set("scale_rewards", scaleRewards)
        set("beta", beta); set("rewards", rewards); set("reward_weights", rewardWeights); set("answer_mode", answerMode)
        if resume { o["resume"] = true }
        return o
    }

    func run() throws {
        do {
            let file: ConfigFile?
            file = try config.map { try ConfigFile(path: $0) }
            try execute(GRPORunConfig.resolve(configFile: file, overrides: overrides))
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

    /// Runs with the settings resolved (flags over the config file over defaults), all checked before the model loads.
    func execute(_ run: GRPORunConfig) throws {
        let commandStarted = Date()
        let options = run.options
        let collective = try distributedOptions.start(threads: run.threads)
        if let threads = run.threads { Threading.setThreadCount(threads) }
        let (train, heldOut) = try problems(run)
        let method = try run.makeMethod()
        try RunDirectory.prepare(run.output)
        let loaded = try ModelLoader.load(path: run.model, deferProjections: type(of: method).streamsProjections)
        guard let tokenizer = loaded.tokenizer else {
            throw ValidationError("\(run.model): the model has no tokenizer; GRPO needs one to write prompts and read completions")
        }
        let lm = loaded.model
        let started = Date()
        let setup = try TrainMethodSetup.apply(method, to: lm, seed: options.seed)
        lm.computePrecision = options.precision
        if collective.writesFiles { log(setup.summary) }
        let trainable = lm.namedParameters.filter { $0.parameter.trainable }.reduce(0) { $0 + $1.parameter.count }
        let total = lm.namedParameters.reduce(0) { $0 + $1.parameter.count }
        if collective.writesFiles { log("model \(run.model): \(run.method), \(trainable) trainable of \(total) parameters (\(String(format: "%.2f", 100 * Double(trainable) / Double(max(1, total))))%), set up in \(String(format: "%.1f", Date().timeIntervalSince(started))) s") }

        let mode: MathAnswer.Mode
        switch run.answerMode {
        case "boxed": mode = .boxed
        case "last-number", "last_number": mode = .lastNumber
        default: throw ValidationError("--answer-mode \(run.answerMode): expected boxed or last-number")
        }
        var functions: [any RewardFunction] = []
        for name in run.rewards.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            switch name {
            case "accuracy": functions.append(MathCorrectnessReward(mode: mode))
            case "format": functions.append(BoxedFormatReward())
            default: throw ValidationError("--rewards: unknown reward \(name); expected accuracy and/or format")
            }
        }
        let weights = try run.rewardWeights.map { text in try text.split(separator: ",").map { part -> Double in
            guard let v = Double(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--reward-weights: \(part) is not a number") }
            return v
        } }
        let weighted = try WeightedRewards(functions, weights: weights)

        let stopIds = tokenizer.turnEndIds
        guard let padId = tokenizer.padId ?? tokenizer.eosId ?? stopIds.first else {
            throw ValidationError("\(run.model): the tokenizer has neither a pad nor an end-of-sequence token")
        }
        let chat = tokenizer.chatTemplate
        let codec = GRPOCodec(
            prompt: { example in
                let text = GRPOPrompt.text(question: example.question, chatTemplate: chat)
                return (text, tokenizer.encode(text, addBOS: tokenizer.addsBOSByDefault))
            },
            decode: { tokenizer.decode($0, skipSpecial: true) }, stopIds: stopIds, padId: padId)

        let directory = URL(fileURLWithPath: run.output)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let trainer = try GRPOTrainer(model: lm, options: options, trainExamples: train, evalExamples: heldOut, rewards: weighted,
                                      accuracy: MathCorrectnessReward(mode: mode), codec: codec, outputDirectory: directory,
                                      collective: collective)
        trainer.preMicroBatch = setup.preMicroBatch
        trainer.postUpdate = setup.postUpdate
        trainer.saveAdapters(of: method, baseModel: run.model)
        var resumedAt: Int?
        if run.resume {
            resumedAt = try trainer.resumeFromLatestCheckpoint()
            if collective.writesFiles { log(resumedAt.map { "resumed at step \($0)" } ?? "no checkpoint in \(run.output); starting from step 0") }
        }
        if collective.size > 1, collective.writesFiles {
            log("\(collective.size) processes share each step's \(options.promptsPerStep) prompts and its micro-batches, "
                + "\(Threading.threadCount) thread\(Threading.threadCount == 1 ? "" : "s") each")
        }
        if collective.writesFiles {
            try RunConfigResolution.json(run).write(to: directory.appendingPathComponent("config.json"), options: .atomic)
        }
        let recorder = collective.writesFiles
            ? try RunRecorder(directory: directory, resumedAtStep: resumedAt ?? (run.resume ? 0 : nil), curve: .reward) : nil
        defer { try? recorder?.writeCurve() }
        var failure: Error?
        trainer.onEvent = { event in
            do { try recorder?.record(event) } catch { failure = error }
            guard collective.writesFiles else { return }
            switch event {
            case let .step(m):
                var line = String(format: "step %d/%d  reward %.3f  std %.3f  zero-std %.2f  len %.1f  clipped %.2f  loss %.4f  grad %.3f  rollout %.1fs (%.0f tok/s)  train %.1fs",
                                  m.step, m.totalSteps, m.reward, m.rewardStd, m.fractionRewardZeroStd, m.meanCompletionLength,
                                  m.clippedRatio, m.loss, m.gradNorm, m.rolloutSeconds, m.rolloutTokensPerSecond, m.trainSeconds)
                if let kl = m.kl { line += String(format: "  kl %.4f", kl) }
                for (name, v) in m.rewardMeans.sorted(by: { $0.key < $1.key }) where m.rewardMeans.count > 1 { line += "  \(name) " + String(format: "%.3f", v) }
                log(line)
            case let .evaluation(step, accuracy, n):
                log(String(format: "eval step %d: accuracy %.3f on %d held-out problems", step, accuracy, n))
            case let .checkpoint(step, path):
                log("checkpoint step \(step): \(path)")
            }
        }
        let runStart = Date()
        try trainer.run()
        if let failure { throw failure }
        guard let recorder else { try collective.finish(); return }
        let summary = RunSummary(kind: "grpo", method: run.method.rawValue, baseModel: RunResult.baseModelName(run.model),
                                 trainableParameters: trainable, steps: options.steps, wallSeconds: Date().timeIntervalSince(commandStarted),
                                 processes: collective.size)
        log("result: " + (try RunResult.write(loaded, method: method, baseModel: run.model, into: run.output, summary: summary)))
        try collective.finish()
        log(String(format: "done in %.1f s; metrics in ", Date().timeIntervalSince(runStart)) + recorder.metricsURL.path)
    }


    /// Training and held-out problems.
    func problems(_ run: GRPORunConfig) throws -> (train: [RewardExample], heldOut: [RewardExample]) {
        let seed = run.options.seed
        var train: [RewardExample]
        switch (run.data, run.task) {
        case let (path?, nil): train = try MathRewardData.load(path: path)
        case (nil, "arithmetic"?): train = GRPOArithmeticTask.examples(count: 5000, seed: seed)
        case (nil, let t?): throw ValidationError("--task \(t): the built-in task is arithmetic")
        case (nil, nil): throw ValidationError("give --data FILE or --task arithmetic")
        default: throw ValidationError("give either --data or --task, not both")
        }
        let heldOut: [RewardExample]
        if let evalData = run.evalData { heldOut = try MathRewardData.load(path: evalData) }
        else if run.task == "arithmetic" { heldOut = GRPOArithmeticTask.examples(count: 500, seed: seed, stream: 1) }
        else { heldOut = [] }
        return (train, heldOut)
    }

    func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
