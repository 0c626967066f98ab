import Foundation

/// PEFT's `adapter_config.json` for LoRA-family adapters (`LoraConfig` keys), read and written as PEFT does.
public struct PEFTLoRAConfig: Codable, Equatable, Sendable {
    public var peftType = "LORA"
    public var taskType: String? = "CAUSAL_LM"
    public var r: Int
    public var loraAlpha: Double
    public var loraDropout: Double
    public var useDora: Bool
    public var useRslora: Bool
    public var bias: String
    /// Leaf names (PEFT also accepts the string `all-linear`, kept as `["all-linear"]`).
    public var targetModules: [String]
    public var baseModelNameOrPath: String
    public var fanInFanOut = false
    public var inferenceMode = true
    /// `true` for a plain LoRA start; PiSSA adapters are saved converted to plain LoRA, so `true` as well.
    public var initLoraWeights: InitLoraWeights = .bool(true)
    /// Per-module ranks and alphas (PEFT `rank_pattern`, `alpha_pattern`); read so that a non-empty one is refused.
    public var rankPattern: [String: Double] = [:]
    public var alphaPattern: [String: Double] = [:]

    /// `init_lora_weights`: a flag or a named scheme (`"pissa"`, `"gaussian"`, …).
    public enum InitLoraWeights: Codable, Equatable, Sendable {
        case bool(Bool), name(String)
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) } else { self = .name(try c.decode(String.self)) }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self { case let .bool(b): try c.encode(b); case let .name(n): try c.encode(n) }
        }
    }

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", r, loraAlpha = "lora_alpha", loraDropout = "lora_dropout"
        case useDora = "use_dora", useRslora = "use_rslora", bias, targetModules = "target_modules"
        case baseModelNameOrPath = "base_model_name_or_path", fanInFanOut = "fan_in_fan_out", inferenceMode = "inference_mode"
        case initLoraWeights = "init_lora_weights", modulesToSave = "modules_to_save", revision
        case rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
    }

    public init(r: Int, loraAlpha: Double, loraDropout: Double, useDora: Bool, useRslora: Bool, targetModules: [String], baseModel: String) {
        self.r = r; self.loraAlpha = loraAlpha; self.loraDropout = loraDropout; self.useDora = useDora; self.useRslora = useRslora
        bias = "none"; self.targetModules = targetModules; baseModelNameOrPath = baseModel
    }

    /// Reads PEFT's defaults for absent keys (α 8, dropout 0, no DoRA/rsLoRA, bias none); `r` and `target_modules` are required.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        peftType = try c.decode(String.self, forKey: .peftType)
        taskType = try c.decodeIfPresent(String.self, forKey: .taskType)
        r = try c.decode(Int.self, forKey: .r)
        loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha) ?? 8
        loraDropout = try c.decodeIfPresent(Double.self, forKey: .loraDropout) ?? 0
        useDora = try c.decodeIfPresent(Bool.self, forKey: .useDora) ?? false
        useRslora = try c.decodeIfPresent(Bool.self, forKey: .useRslora) ?? false
        bias = try c.decodeIfPresent(String.self, forKey: .bias) ?? "none"
        if let list = try? c.decode([String].self, forKey: .targetModules) { targetModules = list } else {
            targetModules = [try c.decode(String.self, forKey: .targetModules)]
        }
        baseModelNameOrPath = try c.decodeIfPresent(String.self, forKey: .baseModelNameOrPath) ?? ""
        fanInFanOut = try c.decodeIfPresent(Bool.self, forKey: .fanInFanOut) ?? false
        inferenceMode = try c.decodeIfPresent(Bool.self, forKey: .inferenceMode) ?? true
        initLoraWeights = try c.decodeIfPresent(InitLoraWeights.self, forKey: .initLoraWeights) ?? .bool(true)
        rankPattern = try c.decodeIfPresent([String: Double].self, forKey: .rankPattern) ?? [:]
        alphaPattern = try c.decodeIfPresent([String: Double].self, forKey: .alphaPattern) ?? [:]
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peftType, forKey: .peftType); try c.encode(taskType, forKey: .taskType); try c.encode(r, forKey: .r)
        try c.encode(loraAlpha, forKey: .loraAlpha); try c.encode(loraDropout, forKey: .loraDropout); try c.encode(useDora, forKey: .useDora)
        try c.encode(useRslora, forKey: .useRslora); try c.encode(bias, forKey: .bias); try c.encode(targetModules, forKey: .targetModules)
        try c.encode(baseModelNameOrPath, forKey: .baseModelNameOrPath); try c.encode(fanInFanOut, forKey: .fanInFanOut)
        try c.encode(inferenceMode, forKey: .inferenceMode); try c.encode(initLoraWeights, forKey: .initLoraWeights)
        try c.encodeNil(forKey: .modulesToSave); try c.encodeNil(forKey: .revision)
    }
}

/// Our `adapter_config.json` for converted methods (fura, qfura, svd): the conversion options, the NF4 settings,
/// and per converted module a fingerprint of its frozen tensors (`CoreFingerprint`).
public struct ConvertedAdapterConfig: Codable, Equatable, Sendable {
    public static let formatName = "fura-adapter"
    public static let currentVersion = 1
    public var format = formatName
    public var formatVersion = currentVersion
    public var method: String
    public var baseModelNameOrPath: String
    public var conversion: ConversionOptions
    public var quantization: QFuRAOptions?
    public var fingerprints: [String: [Double]]
    public var fingerprint: String?

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", method, baseModelNameOrPath = "base_model_name_or_path"
        case conversion, quantization, fingerprints, fingerprint
    }

    public init(method: String, baseModel: String, conversion: ConversionOptions, quantization: QFuRAOptions?,
                fingerprints: [String: [Double]], fingerprint: String?) {
        self.method = method; baseModelNameOrPath = baseModel; self.conversion = conversion; self.quantization = quantization
        self.fingerprints = fingerprints; self.fingerprint = fingerprint
    }
}
