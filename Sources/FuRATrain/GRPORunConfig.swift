import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATensor

/// The resolved settings of a `fura grpo` run (snake_case JSON, saved as `DIR/config.json`; `--config` reads it back):
/// the data, the method and its keys (flat, as in `fura train`), and every GRPO option. Resolved like `TrainConfig`
/// (`RunConfigResolution`): defaults ← config file ← flags.
public struct GRPORunConfig: Codable, Equatable, Sendable {
    public var model = "cache/SmolLM2-135M-Instruct.Q4_1.gguf"
    public var data: String?
    public var task: String?
    public var evalData: String?
    public var output = ""
    public var method = MethodName.fura
    /// The method's keys (`lora_rank`, `decomp_mode`, …); unset ones take the method's RL recipe values.
    public var methodSettings = MethodSettings()
    public var options = GRPOOptions()
    public var threads: Int?
    public var resume = false
    /// Reward functions (comma list of accuracy and format), one weight per function, and the answer format.
    public var rewards = "accuracy"
    public var rewardWeights: String?
    public var answerMode = "boxed"

    public init() {}

    enum Keys: String, CodingKey, CaseIterable {
        case model, data, task, evalData = "eval_data", output, method, threads, resume, rewards
        case rewardWeights = "reward_weights", answerMode = "answer_mode"
    }

    /// Every GRPO option under its config key (flat; `lr` and `optimizer_betas` as `fura grpo` names them).
    enum OptionKeys: String, CodingKey, CaseIterable {
        case steps, promptsPerStep = "prompts_per_step", groupSize = "group_size", maxNewTokens = "max_new_tokens"
        case temperature, topP = "top_p", lr, optimizerBetas = "optimizer_betas", maxGradNorm = "max_grad_norm"
        case epochsPerStep = "epochs_per_step", microBatchSize = "micro_batch_size", rolloutBatchSize = "rollout_batch_size"
        case rolloutPrecision = "rollout_precision", rolloutKv = "rollout_kv", seed, evalEvery = "eval_every", evalLimit = "eval_limit"
        case saveEvery = "save_every", keepCheckpoints = "keep_checkpoints", loss, epsilon, epsilonHigh = "epsilon_high"
        case scaleRewards = "scale_rewards", beta, precision
    }

    /// Every key a config file may hold.
    public static var keys: [String] { Keys.allCases.map(\.rawValue) + OptionKeys.allCases.map(\.rawValue) + MethodSettings.keys }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: Keys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? model
        data = try c.decodeIfPresent(String.self, forKey: .data)
        task = try c.decodeIfPresent(String.self, forKey: .task)
        evalData = try c.decodeIfPresent(String.self, forKey: .evalData)
        output = try c.decodeIfPresent(String.self, forKey: .output) ?? output
        method = try c.decodeIfPresent(MethodName.self, forKey: .method) ?? method
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        resume = try c.decodeIfPresent(Bool.self, forKey: .resume) ?? resume
        rewards = try Self.list(c, .rewards) ?? rewards
        rewardWeights = try Self.list(c, .rewardWeights)
        answerMode = try c.decodeIfPresent(String.self, forKey: .answerMode) ?? answerMode
        methodSettings = try MethodSettings(flexibleFrom: decoder)
        let o = try decoder.container(keyedBy: OptionKeys.self)
        var g = GRPOOptions()
        g.steps = try o.decodeIfPresent(Int.self, forKey: .steps) ?? g.steps
        g.promptsPerStep = try o.decodeIfPresent(Int.self, forKey: .promptsPerStep) ?? g.promptsPerStep
        g.groupSize = try o.decodeIfPresent(Int.self, forKey: .groupSize) ?? g.groupSize
        g.maxNewTokens = try o.decodeIfPresent(Int.self, forKey: .maxNewTokens) ?? g.maxNewTokens
        g.temperature = try o.decodeIfPresent(Double.self, forKey: .temperature) ?? g.temperature
        g.topP = try o.decodeIfPresent(Double.self, forKey: .topP) ?? g.topP
        g.learningRate = try o.decodeIfPresent(Double.self, forKey: .lr) ?? g.learningRate
        if let betas = try Self.numbers(o, .optimizerBetas) {
            guard betas.count == 2 else {
                throw DecodingError.dataCorrupted(.init(codingPath: [OptionKeys.optimizerBetas], debugDescription: "expected two numbers b1,b2"))
            }
            g.adamW.beta1 = betas[0]; g.adamW.beta2 = betas[1]
        }
        if o.contains(.maxGradNorm) {
            let norm = try o.decodeIfPresent(Double.self, forKey: .maxGradNorm)
            g.maxGradNorm = norm.flatMap { $0 > 0 ? $0 : nil }
        }
        g.epochsPerStep = try o.decodeIfPresent(Int.self, forKey: .epochsPerStep) ?? g.epochsPerStep
        g.microBatchSize = try o.decodeIfPresent(Int.self, forKey: .microBatchSize) ?? g.microBatchSize
        g.rolloutBatchSize = try o.decodeIfPresent(Int.self, forKey: .rolloutBatchSize) ?? g.rolloutBatchSize
        g.rolloutPrecision = try o.decodeIfPresent(GenerationWeightPrecision.self, forKey: .rolloutPrecision) ?? g.rolloutPrecision
        g.rolloutKeyValuePrecision = try o.decodeIfPresent(KVCache.Precision.self, forKey: .rolloutKv) ?? g.rolloutKeyValuePrecision
        g.precision = try o.decodeIfPresent(ComputePrecision.self, forKey: .precision) ?? g.precision
        g.seed = try o.decodeIfPresent(UInt64.self, forKey: .seed) ?? g.seed
        g.evalEvery = try o.decodeIfPresent(Int.self, forKey: .evalEvery) ?? g.evalEvery
        g.evalLimit = try o.decodeIfPresent(Int.self, forKey: .evalLimit) ?? g.evalLimit
        g.saveEvery = try o.decodeIfPresent(Int.self, forKey: .saveEvery) ?? g.saveEvery
        g.keepCheckpoints = try o.decodeIfPresent(Int.self, forKey: .keepCheckpoints) ?? g.keepCheckpoints
        g.loss.kind = try o.decodeIfPresent(GRPOLoss.Kind.self, forKey: .loss) ?? g.loss.kind
        g.loss.epsilon = try o.decodeIfPresent(Double.self, forKey: .epsilon) ?? g.loss.epsilon
        if o.contains(.epsilonHigh) { g.loss.epsilonHigh = try o.decodeIfPresent(Double.self, forKey: .epsilonHigh) }
        g.scaleRewards = try o.decodeIfPresent(GRPORewardScaling.self, forKey: .scaleRewards) ?? g.scaleRewards
        g.loss.beta = try o.decodeIfPresent(Double.self, forKey: .beta) ?? g.loss.beta
        options = g
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(model, forKey: .model); try c.encode(data, forKey: .data); try c.encode(task, forKey: .task)
        try c.encode(evalData, forKey: .evalData); try c.encode(output, forKey: .output); try c.encode(method, forKey: .method)
        try c.encode(threads, forKey: .threads); try c.encode(resume, forKey: .resume); try c.encode(rewards, forKey: .rewards)
        try c.encode(rewardWeights, forKey: .rewardWeights); try c.encode(answerMode, forKey: .answerMode)
        try methodSettings.encode(to: encoder)
        var o = encoder.container(keyedBy: OptionKeys.self)
        let g = options
        try o.encode(g.steps, forKey: .steps); try o.encode(g.promptsPerStep, forKey: .promptsPerStep)
        try o.encode(g.groupSize, forKey: .groupSize); try o.encode(g.maxNewTokens, forKey: .maxNewTokens)
        try o.encode(g.temperature, forKey: .temperature); try o.encode(g.topP, forKey: .topP); try o.encode(g.learningRate, forKey: .lr)
        try o.encode([g.adamW.beta1, g.adamW.beta2], forKey: .optimizerBetas); try o.encode(g.maxGradNorm, forKey: .maxGradNorm)
        try o.encode(g.epochsPerStep, forKey: .epochsPerStep); try o.encode(g.microBatchSize, forKey: .microBatchSize)
        try o.encode(g.rolloutBatchSize, forKey: .rolloutBatchSize); try o.encode(g.rolloutPrecision, forKey: .rolloutPrecision)
        try o.encode(g.rolloutKeyValuePrecision, forKey: .rolloutKv); try o.encode(g.seed, forKey: .seed)
        try o.encode(g.evalEvery, forKey: .evalEvery); try o.encode(g.evalLimit, forKey: .evalLimit)
        try o.encode(g.saveEvery, forKey: .saveEvery); try o.encode(g.keepCheckpoints, forKey: .keepCheckpoints)
        try o.encode(g.loss.kind, forKey: .loss); try o.encode(g.loss.epsilon, forKey: .epsilon)
        try o.encode(g.loss.epsilonHigh, forKey: .epsilonHigh); try o.encode(g.scaleRewards, forKey: .scaleRewards)
        try o.encode(g.loss.beta, forKey: .beta); try o.encode(g.precision, forKey: .precision)
    }

    /// A comma list given as text or as a YAML/JSON list.
    static func list(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> String? {
        if let list = try? c.decodeIfPresent([String].self, forKey: key) { return list.joined(separator: ",") }
        if let numbers = try? c.decodeIfPresent([Double].self, forKey: key) { return numbers.map { "\($0)" }.joined(separator: ",") }
        return try c.decodeIfPresent(String.self, forKey: key)
    }

    /// Numbers given as a list or as "a,b".
    static func numbers(_ c: KeyedDecodingContainer<OptionKeys>, _ key: OptionKeys) throws -> [Double]? {
        if let list = try? c.decodeIfPresent([Double].self, forKey: key) { return list }
        guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard values.allSatisfy({ $0 != nil }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [key], debugDescription: "\(text): expected numbers like 0.9,0.999"))
        }
        return values.compactMap { $0 }
    }

    /// Resolves defaults ← `configFile` ← `overrides` (flags), then checks every value, before any model is loaded.
    public static func resolve(configFile: ConfigFile?, overrides: [String: Any]) throws -> GRPORunConfig {
        let config = try RunConfigResolution.resolve(GRPORunConfig.self, keys: keys, configFile: configFile, overrides: overrides) { _ in
            var defaults = GRPORunConfig()
            defaults.options.precision = .trainingDefault   // `fura grpo`'s default; GRPOOptions() alone is f32
            return defaults
        }
        try config.validate()
        return config
    }

    /// Checks every value, the method's options included; errors name the key.
    public func validate() throws {
        guard !output.isEmpty else {
            throw TrainingError.invalidOption(option: "output", value: "", reason: "give --output DIR (or output: in the --config file)")
        }
        try options.validate()
        _ = try makeMethod()
        guard ["boxed", "last-number", "last_number"].contains(answerMode) else {
            throw TrainingError.invalidOption(option: "answer_mode", value: answerMode, reason: "expected boxed or last-number")
        }
        if let threads, threads <= 0 { throw TrainingError.invalidOption(option: "threads", value: "\(threads)", reason: "must be positive") }
    }

    /// The method with its RL-recipe defaults filled in, validated.
    public func makeMethod() throws -> any FineTuningMethod {
        do { return try MethodRegistry.make(method, settings: methodSettings, recipe: .rl) } catch let error as ConversionError {
            throw TrainingError.invalidOption(option: "method options", value: method.rawValue, reason: error.description)
        } catch let error as MethodError {
            throw TrainingError.invalidOption(option: "method options", value: method.rawValue, reason: error.description)
        }
    }
}
