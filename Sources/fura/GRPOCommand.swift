import ArgumentParser
import Foundation
import FuRA
import FuRAEval
import FuRAFormats
import FuRAModels
import FuRANN
import FuRATensor
import FuRATrain

/// `fura grpo`: reinforcement learning on math problems (Track 2, spec §5) with FuRA or a baseline.
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
        DIR/reward.svg and DIR/checkpoint-N/; --resume continues bit-identically.
        """)

    @Option(name: .customLong("model"), help: "Base model: GGUF file or HF directory (default cache/SmolLM2-135M-Instruct.Q4_1.gguf).")
    var modelFlag: String?
    @Option(help: "Training problems (JSON or JSONL).")
    var data: String?
    @Option(help: "Built-in task instead of --data: arithmetic.")
    var task: String?
    @Option(name: .customLong("method"), help: "Any method of fura train: fura (default), svd, lora, dora, full, qlora, qdora, ….")
    var methodFlag: String?
    @Option(name: .customLong("target-modules"), help: "Target modules for fura/svd (comma list: q_proj,…, qkv, o, mlp_upgate, mlp_down, all-linear (default)); the LoRA family uses fura train's targets.")
    var targetModulesFlag: String?
    @Option(help: "FuRA/SVD train position (fura: small|large|both; svd: output|input|both).")
    var trainPosition: String?
    @Option(help: "FuRA decomposition mode (output_one_block, input_one_block, square, or a per-group dict).")
    var decompMode: String?
    @Flag(name: .customLong("normalize-after-update"), inversion: .prefixedNo, help: "FuRA: renormalize the trainable cores after every update (default off).")
    var normalizeAfterUpdateFlag: Bool?
    @Option(name: .customLong("lora-rank"), help: "LoRA/DoRA rank (default 32, the reference's RL runs).")
    var loraRankFlag: Int?
    @Option(name: .customLong("lora-alpha"), help: "LoRA/DoRA alpha (default 32, fixed in the reference's RL code).")
    var loraAlphaFlag: Double?
    @Option(name: .customLong("lora-dropout"), help: "LoRA/DoRA dropout (default 0: PEFT's, as the reference's RL runs).")
    var loraDropoutFlag: Double?
    @Option(name: .customLong("output"), help: "Write the run here (required, by flag or config).")
    var outputFlag: String?

    @Option(help: "Config file, YAML or JSON, whose keys are these flags' names in snake_case (max_new_tokens: 48); flags override it; unknown keys are errors.")
    var config: String?
    @Option(help: "GRPO steps.") var steps: Int?
    @Option(help: "Prompts per step.") var promptsPerStep: Int?
    @Option(help: "Completions per prompt.") var groupSize: Int?
    @Option(help: "New tokens per completion.") var maxNewTokens: Int?
    @Option(help: "Rollout temperature.") var temperature: Double?
    @Option(help: "Rollout nucleus mass.") var topP: Double?
    @Option(help: "Learning rate (constant; default 1e-4).") var lr: Double?
    @Option(help: "AdamW betas as b1,b2 (default 0.9,0.999).") var optimizerBetas: String?
    @Option(help: "Global gradient-norm clip (default 1.0; 0 turns it off).") var maxGradNorm: Double?
    @Option(help: "Optimizer updates per rollout batch.") var epochsPerStep: Int?
    @Option(help: "Sequences per forward/backward.") var microBatchSize: Int?
    @Option(help: "Seed of prompts and rollouts.") var seed: UInt64?
    @Option(help: "Held-out problems (JSON/JSONL); with --task arithmetic, generated ones by default.") var evalData: String?
    @Option(help: "Held-out accuracy every N steps (0: start and end only).") var evalEvery: Int?
    @Option(help: "Held-out problems evaluated.") var evalLimit: Int?
    @Option(help: "Checkpoint every N steps (0: at the end).") var saveEvery: Int?
    @Option(help: "Checkpoints kept (default 2).") var keepCheckpoints: Int?
    @Option(help: "Sequences decoded together in a rollout (default 64).") var rolloutBatchSize: Int?
    @Option(help: "Rollout key/value cache: f32 (default, exact) or f16 (half the attention memory traffic; old log-probs are then recomputed in f32).") var rolloutKv: KVCache.Precision?
    @Option(help: "Rollout engine weights: f32 (default, exact), bf16, q8, or bf16-compute (bf16 arithmetic on AVX512-BF16: fastest; old log-probs are then recomputed in f32).") var rolloutPrecision: GenerationWeightPrecision?
    @Option(help: "Compute threads.") var threads: Int?
    @Flag(name: .customLong("resume"), help: "Continue from the newest checkpoint in --output.") var resumeFlag = false
    @Option(help: "reference (R − group mean, no clip, no KL) or grpo (TRL: clipped ratio, optional KL).") var loss: String?
    @Option(help: "Lower clip ε (grpo).") var epsilon: Double?
    @Option(help: "Upper clip ε_high (grpo; default ε).") var epsilonHigh: Double?
    @Option(help: "group, batch or none (advantage scaling by std).") var scaleRewards: String?
    @Option(help: "KL coefficient β to the reference policy (grpo).") var beta: Double?
    @Option(name: .customLong("rewards"), help: "Reward functions, comma list of accuracy (default) and format.") var rewardsFlag: String?
    @Option(help: "One weight per reward function, comma list.") var rewardWeights: String?
    @Option(name: .customLong("answer-mode"), help: "boxed (the reference; default) or last-number.") var answerModeFlag: String?

    /// Set from the config file (flags win), never parsed.
    var configResume = false

    var model: String { modelFlag ?? "cache/SmolLM2-135M-Instruct.Q4_1.gguf" }
    var method: String { methodFlag ?? "fura" }
    var targetModules: String { targetModulesFlag ?? "all-linear" }
    var normalizeAfterUpdate: Bool { normalizeAfterUpdateFlag ?? false }
    var loraRank: Int { loraRankFlag ?? 32 }
    var loraAlpha: Double { loraAlphaFlag ?? 32 }
    var loraDropout: Double { loraDropoutFlag ?? 0 }
    var output: String { outputFlag ?? "" }
    var resume: Bool { resumeFlag || configResume }
    var rewards: String { rewardsFlag ?? "accuracy" }
    var answerMode: String { answerModeFlag ?? "boxed" }

    func run() throws {
        var command = self
        if let config {
            do { try command.merge(ConfigFile(path: config)) } catch let error as ConfigFileError { throw ValidationError(error.description) }
        }
        try command.execute()
    }

    /// Runs with the settings resolved (flags over the config file over defaults).
    func execute() throws {
        guard !output.isEmpty else { throw ValidationError("give --output DIR (or output: in the --config file)") }
        let options = try resolvedOptions()
        if let threads { Threading.setThreadCount(threads) }
        let (train, heldOut) = try problems()
        let loaded = try ModelLoader.load(path: model)
        guard let tokenizer = loaded.tokenizer else {
            throw ValidationError("\(model): the model has no tokenizer; GRPO needs one to write prompts and read completions")
        }
        let lm = loaded.model
        let started = Date()
        let setup = try TrainMethodSetup.apply(methodConfig(), to: lm, conversion: conversionOptions())
        log(setup.summary)
        let trainable = lm.namedParameters.filter { $0.parameter.trainable }.reduce(0) { $0 + $1.parameter.count }
        let total = lm.namedParameters.reduce(0) { $0 + $1.parameter.count }
        log("model \(model): \(method), \(trainable) trainable of \(total) parameters (\(String(format: "%.2f", 100 * Double(trainable) / Double(max(1, total))))%), set up in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")

        let mode: MathAnswer.Mode
        switch answerMode {
        case "boxed": mode = .boxed
        case "last-number", "last_number": mode = .lastNumber
        default: throw ValidationError("--answer-mode \(answerMode): expected boxed or last-number")
        }
        var functions: [any RewardFunction] = []
        for name in rewards.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            switch name {
            case "accuracy": functions.append(MathCorrectnessReward(mode: mode))
            case "format": functions.append(BoxedFormatReward())
            default: throw ValidationError("--rewards: unknown reward \(name); expected accuracy and/or format")
            }
        }
        let weights = try rewardWeights.map { text in try text.split(separator: ",").map { part -> Double in
            guard let v = Double(part.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--reward-weights: \(part) is not a number") }
            return v
        } }
        let weighted = try WeightedRewards(functions, weights: weights)

        var stopIds = Set<Int>()
        if let eos = tokenizer.eosId { stopIds.insert(eos) }
        for special in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>"] { if let id = tokenizer.id(for: special) { stopIds.insert(id) } }
        guard let padId = tokenizer.padId ?? tokenizer.eosId ?? stopIds.first else {
            throw ValidationError("\(model): the tokenizer has neither a pad nor an end-of-sequence token")
        }
        let chat = tokenizer.chatTemplate
        let codec = GRPOCodec(
            prompt: { example in
                let text = GRPOPrompt.text(question: example.question, chatTemplate: chat)
                return (text, tokenizer.encode(text, addBOS: tokenizer.addsBOSByDefault))
            },
            decode: { tokenizer.decode($0, skipSpecial: true) }, stopIds: stopIds, padId: padId)

        let directory = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let trainer = try GRPOTrainer(model: lm, options: options, trainExamples: train, evalExamples: heldOut, rewards: weighted,
                                      accuracy: MathCorrectnessReward(mode: mode), codec: codec, outputDirectory: directory)
        trainer.preUpdate = setup.preStep
        trainer.postUpdate = setup.postStep
        var resumedAt: Int?
        if resume {
            resumedAt = try trainer.resumeFromLatestCheckpoint()
            log(resumedAt.map { "resumed at step \($0)" } ?? "no checkpoint in \(output); starting from step 0")
        }
        try writeConfig(options, to: directory)
        let recorder = try GRPORecorder(directory: directory, resumedAtStep: resumedAt ?? (resume ? 0 : nil))
        var failure: Error?
        trainer.onEvent = { event in
            do { try recorder.record(event) } catch { failure = error }
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
        log(String(format: "done in %.1f s; metrics in ", Date().timeIntervalSince(runStart)) + recorder.metricsURL.path)
    }

    /// The GRPO options: defaults, then flags (the config file was merged into the flags by `merge`).
    func resolvedOptions() throws -> GRPOOptions {
        var o = GRPOOptions()
        if let steps { o.steps = steps }
        if let promptsPerStep { o.promptsPerStep = promptsPerStep }
        if let groupSize { o.groupSize = groupSize }
        if let maxNewTokens { o.maxNewTokens = maxNewTokens }
        if let temperature { o.temperature = temperature }
        if let topP { o.topP = topP }
        if let lr { o.learningRate = lr }
        if let optimizerBetas {
            let parts = optimizerBetas.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2 else { throw ValidationError("--optimizer-betas \(optimizerBetas): expected two numbers b1,b2") }
            o.adamW.beta1 = parts[0]; o.adamW.beta2 = parts[1]
        }
        if let maxGradNorm { o.maxGradNorm = maxGradNorm > 0 ? maxGradNorm : nil }
        if let epochsPerStep { o.epochsPerStep = epochsPerStep }
        if let microBatchSize { o.microBatchSize = microBatchSize }
        if let seed { o.seed = seed }
        if let evalEvery { o.evalEvery = evalEvery }
        if let evalLimit { o.evalLimit = evalLimit }
        if let saveEvery { o.saveEvery = saveEvery }
        if let keepCheckpoints { o.keepCheckpoints = keepCheckpoints }
        if let rolloutBatchSize { o.rolloutBatchSize = rolloutBatchSize }
        if let rolloutPrecision { o.rolloutPrecision = rolloutPrecision }
        if let rolloutKv { o.rolloutKeyValuePrecision = rolloutKv }
        if let loss {
            guard let kind = GRPOLoss.Kind(rawValue: loss) else { throw ValidationError("--loss \(loss): expected reference or grpo") }
            o.loss.kind = kind
        }
        if let epsilon { o.loss.epsilon = epsilon }
        if let epsilonHigh { o.loss.epsilonHigh = epsilonHigh }
        if let beta { o.loss.beta = beta }
        if let scaleRewards {
            guard let s = GRPORewardScaling(rawValue: scaleRewards) else { throw ValidationError("--scale-rewards \(scaleRewards): expected group, batch or none") }
            o.scaleRewards = s
        }
        try o.validate()
        return o
    }

    /// The `fura train` configuration that `TrainMethodSetup` reads: the method, the seed, and the LoRA family's
    /// rank, alpha and dropout (GRPO's own defaults: the reference's RL recipe, r 32, alpha 32, dropout 0).
    func methodConfig() throws -> TrainConfig {
        try TrainConfig.resolve(file: nil, filePath: "flags", overrides: [
            "model": model, "data": data ?? task ?? "-", "output": output, "method": method, "seed": seed ?? 42,
            "lora_rank": loraRank, "lora_alpha": loraAlpha, "lora_dropout": loraDropout,
        ])
    }

    /// FuRA/SVD conversion options from the flags (read only by the methods that convert projections).
    func conversionOptions() throws -> ConversionOptions {
        var options = ConversionOptions(method: ConversionMethod(rawValue: method) ?? .fura)
        options.targetModules = targetModules.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if let position = trainPosition { options.trainPosition = position }
        if let mode = decompMode { options.decompMode = try DecompModeSpec(parsing: mode) }
        options.normalizeAfterUpdate = normalizeAfterUpdate
        try options.validate()
        return options
    }

    /// Training and held-out problems.
    func problems() throws -> (train: [RewardExample], heldOut: [RewardExample]) {
        let seed = self.seed ?? 42
        var train: [RewardExample]
        switch (data, task) {
        case let (path?, nil): train = try MathRewardData.load(path: path)
        case (nil, "arithmetic"?): train = GRPOArithmeticTask.examples(count: 5000, seed: seed)
        case (nil, let t?): throw ValidationError("--task \(t): the built-in task is arithmetic")
        case (nil, nil): throw ValidationError("give --data FILE or --task arithmetic")
        default: throw ValidationError("give either --data or --task, not both")
        }
        let heldOut: [RewardExample]
        if let evalData { heldOut = try MathRewardData.load(path: evalData) }
        else if task == "arithmetic" { heldOut = GRPOArithmeticTask.examples(count: 500, seed: seed, stream: 1) }
        else { heldOut = [] }
        return (train, heldOut)
    }

    /// Writes the resolved settings under the config-file keys (`--config DIR/config.json` repeats the run).
    func writeConfig(_ options: GRPOOptions, to directory: URL) throws {
        let json = try JSONSerialization.data(withJSONObject: resolvedSettings(options), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try json.write(to: directory.appendingPathComponent("config.json"), options: .atomic)
    }

    func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
