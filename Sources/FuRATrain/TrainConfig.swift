import Foundation
import FuRAFormats

/// The fine-tuning methods `fura train` knows.
public enum TrainMethod: String, Codable, CaseIterable, Sendable {
    case fura, svd, lora, dora, full, qfura, qlora, qdora
}

/// The resolved settings of an SFT run (snake_case JSON, saved as `DIR/config.json`).
///
/// Built from the method's recipe defaults (spec §4.5, §7), then a config file, then flags.
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
    public var valSize: Int
    public var evalEvery: Int?
    public var saveEvery: Int?
    public var keepCheckpoints: Int
    public var gradientCheckpointing: Bool
    public var threads: Int?
    public var resume: Bool
    public var trainOnInputs: Bool
    /// LoRA-family rank, scale numerator and dropout (nil for other methods).
    public var loraRank: Int?
    public var loraAlpha: Double?
    public var loraDropout: Double?
    /// FuRA/SVD conversion options, as text (nil: the method's default; see `conversionOptions()`).
    public var decompMode: String?
    public var rank: String?
    public var trainPosition: String?
    public var sMergedTo: String?
    public var convertMode: String?
    public var inputFactorization: String?
    public var targetModules: String?
    public var factorizeByHead: Bool?
    public var normalizeAfterUpdate: Bool?
    public var trainBias: Bool?
    /// QFuRA: NF4 layout of the frozen core (`flat` or `per_core_block`) and double quantization.
    public var quantBlockLayout: String?
    public var doubleQuant: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, data, method, output, iters, epochs, batchSize = "batch_size", gradAccum = "grad_accum", lr, schedule, warmup
        case weightDecay = "weight_decay", betas, eps, maxGradNorm = "max_grad_norm", maxSeqLen = "max_seq_len", seed
        case valData = "val_data", valSize = "val_size", evalEvery = "eval_every", saveEvery = "save_every"
        case keepCheckpoints = "keep_checkpoints", gradientCheckpointing = "gradient_checkpointing", threads, resume
        case trainOnInputs = "train_on_inputs", loraRank = "lora_rank", loraAlpha = "lora_alpha", loraDropout = "lora_dropout"
        case decompMode = "decomp_mode", rank, trainPosition = "train_position", sMergedTo = "s_merged_to"
        case convertMode = "convert_mode", inputFactorization = "input_factorization", targetModules = "target_modules"
        case factorizeByHead = "factorize_by_head", normalizeAfterUpdate = "normalize_after_update", trainBias = "train_bias"
        case quantBlockLayout = "quant_block_layout", doubleQuant = "double_quant"
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
        try c.encode(loraRank, forKey: .loraRank); try c.encode(loraAlpha, forKey: .loraAlpha); try c.encode(loraDropout, forKey: .loraDropout)
        try c.encode(decompMode, forKey: .decompMode); try c.encode(rank, forKey: .rank)
        try c.encode(trainPosition, forKey: .trainPosition); try c.encode(sMergedTo, forKey: .sMergedTo)
        try c.encode(convertMode, forKey: .convertMode); try c.encode(inputFactorization, forKey: .inputFactorization)
        try c.encode(targetModules, forKey: .targetModules); try c.encode(factorizeByHead, forKey: .factorizeByHead)
        try c.encode(normalizeAfterUpdate, forKey: .normalizeAfterUpdate); try c.encode(trainBias, forKey: .trainBias)
        try c.encode(quantBlockLayout, forKey: .quantBlockLayout); try c.encode(doubleQuant, forKey: .doubleQuant)
    }

    /// Every key a config file may hold.
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// The recipe defaults of `method` (spec §4.5 and §7): lr 2e-4, betas (0.9, 0.95), linear schedule,
    /// warmup 0.03, seed 43, batch 8 × 2, 3 epochs, max length 2048, gradient checkpointing on.
    /// FuRA holds out 100 validation examples and never evaluates (`--load_last_model`); the baselines hold out
    /// 120 and evaluate every 400 steps; full fine-tuning gets torch's default weight decay 0.01.
    public static func defaults(method: TrainMethod, model: String = "", data: String = "", output: String = "") -> TrainConfig {
        var config = TrainConfig(
            model: model, data: data, method: method, output: output, iters: nil, epochs: 3, batchSize: 8, gradAccum: 2,
            lr: 2e-4, schedule: .linear, warmup: .fraction(0.03), weightDecay: 0, betas: [0.9, 0.95], eps: 1e-8,
            maxGradNorm: nil, maxSeqLen: 2048, seed: 43, valData: nil, valSize: 120, evalEvery: 400, saveEvery: 500,
            keepCheckpoints: 2, gradientCheckpointing: true, threads: nil, resume: false, trainOnInputs: false,
            loraRank: nil, loraAlpha: nil, loraDropout: nil)
        switch method {
        case .fura:
            config.valSize = 100
            config.evalEvery = nil
        case .full:
            config.weightDecay = 0.01
        case .lora, .dora, .qdora:
            config.loraRank = 64; config.loraAlpha = 128; config.loraDropout = 0.05
        case .qlora:
            config.loraRank = 48; config.loraAlpha = 96; config.loraDropout = 0.05
        case .svd, .qfura:
            break
        }
        return config
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
        try require(valSize >= 0, "val_size", valSize, "must be ≥ 0")
        try require(evalEvery.map { $0 >= 0 } ?? true, "eval_every", evalEvery, "must be ≥ 0")
        try require(saveEvery.map { $0 >= 0 } ?? true, "save_every", saveEvery, "must be ≥ 0")
        try require(keepCheckpoints > 0, "keep_checkpoints", keepCheckpoints, "must be positive")
        try require(threads.map { $0 > 0 } ?? true, "threads", threads, "must be positive")
        if case let .fraction(f) = warmup { try require(f >= 0 && f < 1, "warmup", f, "a fraction must be in [0, 1)") }
    }

    /// Pretty, key-sorted JSON.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

extension TrainConfig {
    /// Builds the resolved config: method defaults ← config file (JSON object, `file`) ← `overrides`
    /// (a JSON object of flags given on the command line). Unknown keys are errors naming the key.
    public static func resolve(file: Data?, filePath: String = "config", overrides: [String: Any]) throws -> TrainConfig {
        var merged = [String: Any]()
        if let file {
            guard let object = try? JSONSerialization.jsonObject(with: file) as? [String: Any] else {
                throw TrainingError.invalidOption(option: "config", value: filePath, reason: "expected a JSON object of settings")
            }
            merged = object
        }
        for (key, value) in overrides { merged[key] = value }
        let known = Set(keys)
        if let unknown = merged.keys.sorted().first(where: { !known.contains($0) }) {
            throw TrainingError.invalidOption(option: "config", value: "\(filePath): \(unknown)",
                                              reason: "unknown key \"\(unknown)\"; known keys: \(keys.joined(separator: ", "))")
        }
        let methodName = (merged["method"] as? String) ?? TrainMethod.fura.rawValue
        guard let method = TrainMethod(rawValue: methodName) else {
            throw TrainingError.invalidOption(option: "method", value: methodName,
                                              reason: "expected one of \(TrainMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        // Start from the method's defaults as JSON, overlay, decode (null clears an optional value).
        let base = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(defaults(method: method))) as? [String: Any] ?? [:]
        var combined = base
        for (key, value) in merged {
            if value is NSNull { combined.removeValue(forKey: key) } else { combined[key] = value }
        }
        let data = try JSONSerialization.data(withJSONObject: combined)
        let config: TrainConfig
        do { config = try JSONDecoder().decode(TrainConfig.self, from: data) } catch let DecodingError.typeMismatch(_, context) {
            throw TrainingError.invalidOption(option: context.codingPath.map(\.stringValue).joined(separator: "."), value: "\(filePath)",
                                              reason: "wrong type: \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw TrainingError.invalidOption(option: context.codingPath.map(\.stringValue).joined(separator: "."), value: "\(filePath)",
                                              reason: context.debugDescription)
        } catch {
            throw TrainingError.invalidOption(option: "config", value: filePath, reason: "\(error)")
        }
        try config.validate()
        return config
    }
}

extension TrainConfig {
    /// Resolves from a config file read by `ConfigFile` (YAML or JSON with the same keys): an unknown key
    /// is an error naming the file and line; then as `resolve(file:filePath:overrides:)`.
    public static func resolve(configFile: ConfigFile, overrides: [String: Any]) throws -> TrainConfig {
        do {
            try configFile.checkKeys(keys)
            return try resolve(file: try configFile.jsonData(), filePath: configFile.path, overrides: overrides)
        } catch let error as ConfigFileError {
            throw TrainingError.invalidOption(option: "config", value: configFile.path, reason: error.description)
        }
    }
}
