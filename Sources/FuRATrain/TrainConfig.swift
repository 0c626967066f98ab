import Foundation
import FuRA
import FuRAFormats
import FuRATensor

/// The fine-tuning methods `fura train` knows: the names of `MethodRegistry`.
public typealias TrainMethod = MethodName

/// The resolved settings of an SFT run (snake_case JSON, saved as `DIR/config.json`).
///
/// Built from the method's recipe defaults (Docs/recipes.md §2, §7), then a config file, then flags.
@dynamicMemberLookup
public struct TrainConfig: Codable, Equatable, Sendable {
    public var model: String
    public var data: String
    public var method: TrainMethod
    public var output: String
    /// Optimizer steps; when set it replaces `epochs` (the reference's `--max_steps`).
    public var iters: Int?
    public var epochs: Int
    public var batchSize: Int
    public var gradAccum: Int
    public var lr: Double
    public var schedule: LearningRateSchedule.Kind
    public var warmup: LearningRateSchedule.Warmup
    public var weightDecay: Double
    public var betas: [Double]
    public var eps: Double
    public var maxGradNorm: Double?
    public var maxSeqLen: Int
    public var seed: UInt64
    public var valData: String?
    /// Examples held out for validation; nil (the default) scales with the data: 5 % of the examples, at most the
    /// method's recipe (100 for FuRA, 120 for the baselines), so a 200-example file keeps 190 to train on.
    public var valSize: Int?
    public var evalEvery: Int?
    public var saveEvery: Int?
    public var keepCheckpoints: Int
    public var gradientCheckpointing: Bool
    public var threads: Int?
    public var resume: Bool
    public var trainOnInputs: Bool
    /// The arithmetic of the large products (`f32`, or `bf16` with f32 sums and f32 masters; `ComputePrecision`).
    public var precision: ComputePrecision
    /// The method's keys (`lora_rank`, `decomp_mode`, `target_modules`, …), stored flat in the JSON; nil values take
    /// the method's recipe values.
    public var methodSettings: MethodSettings
    /// The visual instruction keys (`vision_tower`, `image_folder`, `stage`, …), stored flat in the JSON.
    public var vision: VisionSettings

    /// The method's keys read and written as the config's own (`config.loraRank`).
    public subscript<T>(dynamicMember keyPath: WritableKeyPath<MethodSettings, T>) -> T {
        get { methodSettings[keyPath: keyPath] }
        set { methodSettings[keyPath: keyPath] = newValue }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, data, method, output, iters, epochs, batchSize = "batch_size", gradAccum = "grad_accum", lr, schedule, warmup
        case weightDecay = "weight_decay", betas, eps, maxGradNorm = "max_grad_norm", maxSeqLen = "max_seq_len", seed
        case valData = "val_data", valSize = "val_size", evalEvery = "eval_every", saveEvery = "save_every"
        case keepCheckpoints = "keep_checkpoints", gradientCheckpointing = "gradient_checkpointing", threads, resume
        case trainOnInputs = "train_on_inputs", precision
    }

    public init(model: String, data: String, method: TrainMethod, output: String, iters: Int?, epochs: Int, batchSize: Int,
                gradAccum: Int, lr: Double, schedule: LearningRateSchedule.Kind, warmup: LearningRateSchedule.Warmup,
                weightDecay: Double, betas: [Double], eps: Double, maxGradNorm: Double?, maxSeqLen: Int, seed: UInt64,
                valData: String?, valSize: Int?, evalEvery: Int?, saveEvery: Int?, keepCheckpoints: Int,
                gradientCheckpointing: Bool, threads: Int?, resume: Bool, trainOnInputs: Bool,
                precision: ComputePrecision = .f32, methodSettings: MethodSettings = MethodSettings(),
                vision: VisionSettings = VisionSettings()) {
        self.model = model; self.data = data; self.method = method; self.output = output; self.iters = iters; self.epochs = epochs
        self.batchSize = batchSize; self.gradAccum = gradAccum; self.lr = lr; self.schedule = schedule; self.warmup = warmup
        self.weightDecay = weightDecay; self.betas = betas; self.eps = eps; self.maxGradNorm = maxGradNorm; self.maxSeqLen = maxSeqLen
        self.seed = seed; self.valData = valData; self.valSize = valSize; self.evalEvery = evalEvery; self.saveEvery = saveEvery
        self.keepCheckpoints = keepCheckpoints; self.gradientCheckpointing = gradientCheckpointing; self.threads = threads
        self.resume = resume; self.trainOnInputs = trainOnInputs; self.precision = precision
        self.methodSettings = methodSettings; self.vision = vision
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            model: try c.decode(String.self, forKey: .model), data: try c.decode(String.self, forKey: .data),
            method: try c.decode(TrainMethod.self, forKey: .method), output: try c.decode(String.self, forKey: .output),
            iters: try c.decodeIfPresent(Int.self, forKey: .iters), epochs: try c.decode(Int.self, forKey: .epochs),
            batchSize: try c.decode(Int.self, forKey: .batchSize), gradAccum: try c.decode(Int.self, forKey: .gradAccum),
            lr: try c.decode(Double.self, forKey: .lr), schedule: try c.decode(LearningRateSchedule.Kind.self, forKey: .schedule),
            warmup: try c.decode(LearningRateSchedule.Warmup.self, forKey: .warmup),
            weightDecay: try c.decode(Double.self, forKey: .weightDecay), betas: try c.decode([Double].self, forKey: .betas),
            eps: try c.decode(Double.self, forKey: .eps), maxGradNorm: try c.decodeIfPresent(Double.self, forKey: .maxGradNorm),
            maxSeqLen: try c.decode(Int.self, forKey: .maxSeqLen), seed: try c.decode(UInt64.self, forKey: .seed),
            valData: try c.decodeIfPresent(String.self, forKey: .valData), valSize: try c.decodeIfPresent(Int.self, forKey: .valSize),
            evalEvery: try c.decodeIfPresent(Int.self, forKey: .evalEvery), saveEvery: try c.decodeIfPresent(Int.self, forKey: .saveEvery),
            keepCheckpoints: try c.decode(Int.self, forKey: .keepCheckpoints),
            gradientCheckpointing: try c.decode(Bool.self, forKey: .gradientCheckpointing), threads: try c.decodeIfPresent(Int.self, forKey: .threads),
            resume: try c.decode(Bool.self, forKey: .resume), trainOnInputs: try c.decode(Bool.self, forKey: .trainOnInputs),
            precision: try c.decodeIfPresent(ComputePrecision.self, forKey: .precision) ?? .f32,   // written before the key: f32
            methodSettings: try MethodSettings(flexibleFrom: decoder), vision: try VisionSettings(from: decoder))
    }


    /// Writes every key, `null` for unset optional values, so the saved file resolves to the same config.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model); try c.encode(data, forKey: .data); try c.encode(method, forKey: .method)
        try c.encode(output, forKey: .output); try c.encode(iters, forKey: .iters); try c.encode(epochs, forKey: .epochs)
        try c.encode(batchSize, forKey: .batchSize); try c.encode(gradAccum, forKey: .gradAccum); try c.encode(lr, forKey: .lr)
        try c.encode(schedule, forKey: .schedule); try c.encode(warmup, forKey: .warmup)
        try c.encode(weightDecay, forKey: .weightDecay); try c.encode(betas, forKey: .betas); try c.encode(eps, forKey: .eps)
        try c.encode(maxGradNorm, forKey: .maxGradNorm); try c.encode(maxSeqLen, forKey: .maxSeqLen); try c.encode(seed, forKey: .seed)
        try c.encode(valData, forKey: .valData); try c.encode(valSize, forKey: .valSize); try c.encode(evalEvery, forKey: .evalEvery)
        try c.encode(saveEvery, forKey: .saveEvery); try c.encode(keepCheckpoints, forKey: .keepCheckpoints)
        try c.encode(gradientCheckpointing, forKey: .gradientCheckpointing); try c.encode(threads, forKey: .threads)
        try c.encode(resume, forKey: .resume); try c.encode(trainOnInputs, forKey: .trainOnInputs)
        try c.encode(precision, forKey: .precision)
        try methodSettings.encode(to: encoder)
        try vision.encode(to: encoder)
    }

    /// Every key a config file may hold.
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) + MethodSettings.keys + VisionSettings.keys }

    /// The recipe defaults of `method` (Docs/recipes.md §2 and §7): lr 2e-4, betas (0.9, 0.95), linear schedule,
    /// warmup 0.03, seed 43, batch 8 × 2, 3 epochs, max length 2048, gradient checkpointing on.
    /// FuRA holds out 100 validation examples and never evaluates (`--load_last_model`); the baselines hold out
    /// 120 and evaluate every 400 steps; full fine-tuning gets torch's default weight decay 0.01.
    public static func defaults(method: TrainMethod, model: String = "", data: String = "", output: String = "") -> TrainConfig {
        var config = TrainConfig(
            model: model, data: data, method: method, output: output, iters: nil, epochs: 3, batchSize: 8, gradAccum: 2,
            lr: 2e-4, schedule: .linear, warmup: .fraction(0.03), weightDecay: 0, betas: [0.9, 0.95], eps: 1e-8,
            maxGradNorm: nil, maxSeqLen: 2048, seed: 43, valData: nil, valSize: nil, evalEvery: 400, saveEvery: 500,
            keepCheckpoints: 2, gradientCheckpointing: true, threads: nil, resume: false, trainOnInputs: false)
        // What the reference changes per method (Docs/recipes.md §2, §7) is the method's own recipe.
        if let recipe = try? MethodRegistry.recipe(method, .sft) {
            if !recipe.evaluates { config.evalEvery = nil }
            if let v = recipe.weightDecay { config.weightDecay = v }
            config.methodSettings.loraRank = recipe.settings.loraRank; config.methodSettings.loraAlpha = recipe.settings.loraAlpha
            config.methodSettings.loraDropout = recipe.settings.loraDropout
        }
        return config
    }

    /// The default hold-out: this fraction of the examples, at most the recipe's count.
    public static let defaultValidationFraction = 0.05
    public static let defaultValidationCap = 120

    /// The examples `examples` holds out for validation: `valSize` when set, else 5 % of them, at most the method's
    /// recipe (Docs/recipes.md §2: FuRA 100, the baselines 120).
    public func heldOutCount(examples: Int) -> Int {
        if let valSize { return valSize }
        let cap = (try? MethodRegistry.recipe(method, .sft))?.valSize ?? Self.defaultValidationCap
        return min(cap, Int(Double(examples) * Self.defaultValidationFraction))
    }

    /// Checks every value; errors name the option.
    public func validate() throws {
        func require(_ ok: Bool, _ option: String, _ value: Any?, _ reason: String) throws {
            if !ok { throw TrainingError.invalidOption(option: option, value: value.map { "\($0)" } ?? "nil", reason: reason) }
        }
        try require(!model.isEmpty, "model", model, "a model file or directory is required (--model)")
        try require(!data.isEmpty, "data", data, "a training data file is required (--data)")
        try require(!output.isEmpty, "output", output, "an output directory is required (--output)")
        try require(iters.map { $0 > 0 } ?? true, "iters", iters, "must be positive")
        try require(epochs > 0, "epochs", epochs, "must be positive")
        try require(batchSize > 0, "batch_size", batchSize, "must be positive")
        try require(gradAccum > 0, "grad_accum", gradAccum, "must be positive")
        try require(lr > 0 && lr.isFinite, "lr", lr, "must be positive")
        try require(weightDecay >= 0, "weight_decay", weightDecay, "must be ≥ 0")
        try require(betas.count == 2 && betas.allSatisfy { $0 >= 0 && $0 < 1 }, "betas", betas, "expected two values in [0, 1)")
        try require(eps > 0, "eps", eps, "must be positive")
        try require(maxGradNorm.map { $0 > 0 } ?? true, "max_grad_norm", maxGradNorm, "must be positive")
        try require(maxSeqLen > 1, "max_seq_len", maxSeqLen, "must be at least 2")
        try require(valSize.map { $0 >= 0 } ?? true, "val_size", valSize, "must be ≥ 0")
        try require(evalEvery.map { $0 >= 0 } ?? true, "eval_every", evalEvery, "must be ≥ 0")
        try require(saveEvery.map { $0 >= 0 } ?? true, "save_every", saveEvery, "must be ≥ 0")
        try require(keepCheckpoints > 0, "keep_checkpoints", keepCheckpoints, "must be positive")
        try require(threads.map { $0 > 0 } ?? true, "threads", threads, "must be positive")
        if case let .fraction(f) = warmup { try require(f >= 0 && f < 1, "warmup", f, "a fraction must be in [0, 1)") }
        try vision.validate()
        _ = try makeMethod()
    }

    /// Pretty, key-sorted JSON.
    public func json() throws -> Data { try RunConfigResolution.json(self) }
}

extension TrainConfig {
    /// Builds the resolved config: method defaults ← config file (JSON object, `file`) ← `overrides`
    /// (a JSON object of flags given on the command line). Unknown keys are errors naming the key.
    public static func resolve(file: Data?, filePath: String = "config", overrides: [String: Any]) throws -> TrainConfig {
        let stage = requestedStage(overrides: overrides, file: file)
        let config = try RunConfigResolution.resolve(TrainConfig.self, keys: keys, file: file, filePath: filePath, overrides: overrides,
                                                     defaults: { try defaults(methodName: $0, visionStage: stage) })
        try config.validate()
        return config
    }

    /// Resolves from a config file read by `ConfigFile` (YAML or JSON with the same keys): an unknown key
    /// is an error naming the file and line; then as `resolve(file:filePath:overrides:)`.
    public static func resolve(configFile: ConfigFile?, overrides: [String: Any]) throws -> TrainConfig {
        let stage = requestedStage(overrides: overrides, file: try configFile?.jsonData())
        let config = try RunConfigResolution.resolve(TrainConfig.self, keys: keys, configFile: configFile, overrides: overrides,
                                                     defaults: { try defaults(methodName: $0, visionStage: stage) })
        try config.validate()
        return config
    }

    /// The defaults of `fura train`: the named method's (fura when nil) under a visual instruction stage's recipe when
    /// one is asked for, at `ComputePrecision.trainingDefault`.
    static func defaults(methodName: String?, visionStage: Int?) throws -> TrainConfig {
        var config = try defaults(methodName: methodName)
        config.precision = .trainingDefault
        if let visionStage { config.applyVisionStage(visionStage) }
        return config
    }

    /// The defaults of the named method (fura when nil); an unknown name is an error listing the methods.
    static func defaults(methodName: String?) throws -> TrainConfig {
        let name = methodName ?? TrainMethod.fura.rawValue
        guard let method = TrainMethod(rawValue: name) else {
            throw TrainingError.invalidOption(option: "method", value: name,
                                              reason: "expected one of \(TrainMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return defaults(method: method)
    }
}
