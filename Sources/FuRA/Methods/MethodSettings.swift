/// The method's part of a run's configuration, as the user wrote it (flags, YAML/JSON keys, saved
/// `config.json`): every value optional, nil meaning the method's recipe default.
///
/// A method turns these into its typed, validated options in `FineTuningMethod.init(settings:)`; the same
/// keys serve `fura train`, `fura grpo`, `fura plan` and `fura inspect`.
public struct MethodSettings: Codable, Equatable, Sendable {
    /// LoRA family: rank, α, dropout, and α/√r scaling (`use_rslora`).
    public var loraRank: Int?
    public var loraAlpha: Double?
    public var loraDropout: Double?
    public var useRslora: Bool?
    /// FuRA/SVD conversion options, as text (see `ConversionOptions`).
    public var decompMode: String?
    public var rank: String?
    public var trainPosition: String?
    public var sMergedTo: String?
    public var convertMode: String?
    public var inputFactorization: String?
    /// Every method: the projections it adapts, comma-separated leaf or group names (`q_proj,o_proj`, `mlp`, `all-linear`).
    public var targetModules: String?
    public var factorizeByHead: Bool?
    public var normalizeAfterUpdate: Bool?
    public var trainBias: Bool?
    /// QFuRA: NF4 layout of the frozen core and double quantization.
    public var quantBlockLayout: String?
    public var doubleQuant: Bool?

    public init(loraRank: Int? = nil, loraAlpha: Double? = nil, loraDropout: Double? = nil, useRslora: Bool? = nil,
                decompMode: String? = nil, rank: String? = nil, trainPosition: String? = nil, sMergedTo: String? = nil,
                convertMode: String? = nil, inputFactorization: String? = nil, targetModules: String? = nil,
                factorizeByHead: Bool? = nil, normalizeAfterUpdate: Bool? = nil, trainBias: Bool? = nil,
                quantBlockLayout: String? = nil, doubleQuant: Bool? = nil) {
        self.loraRank = loraRank; self.loraAlpha = loraAlpha; self.loraDropout = loraDropout; self.useRslora = useRslora
        self.decompMode = decompMode; self.rank = rank; self.trainPosition = trainPosition; self.sMergedTo = sMergedTo
        self.convertMode = convertMode; self.inputFactorization = inputFactorization; self.targetModules = targetModules
        self.factorizeByHead = factorizeByHead; self.normalizeAfterUpdate = normalizeAfterUpdate; self.trainBias = trainBias
        self.quantBlockLayout = quantBlockLayout; self.doubleQuant = doubleQuant
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case loraRank = "lora_rank", loraAlpha = "lora_alpha", loraDropout = "lora_dropout", useRslora = "use_rslora"
        case decompMode = "decomp_mode", rank, trainPosition = "train_position", sMergedTo = "s_merged_to"
        case convertMode = "convert_mode", inputFactorization = "input_factorization", targetModules = "target_modules"
        case factorizeByHead = "factorize_by_head", normalizeAfterUpdate = "normalize_after_update", trainBias = "train_bias"
        case quantBlockLayout = "quant_block_layout", doubleQuant = "double_quant"
    }

    /// Writes every key, `null` for unset values (a saved config names every option it could hold).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(loraRank, forKey: .loraRank); try c.encode(loraAlpha, forKey: .loraAlpha)
        try c.encode(loraDropout, forKey: .loraDropout); try c.encode(useRslora, forKey: .useRslora)
        try c.encode(decompMode, forKey: .decompMode); try c.encode(rank, forKey: .rank); try c.encode(trainPosition, forKey: .trainPosition)
        try c.encode(sMergedTo, forKey: .sMergedTo); try c.encode(convertMode, forKey: .convertMode)
        try c.encode(inputFactorization, forKey: .inputFactorization); try c.encode(targetModules, forKey: .targetModules)
        try c.encode(factorizeByHead, forKey: .factorizeByHead); try c.encode(normalizeAfterUpdate, forKey: .normalizeAfterUpdate)
        try c.encode(trainBias, forKey: .trainBias); try c.encode(quantBlockLayout, forKey: .quantBlockLayout)
        try c.encode(doubleQuant, forKey: .doubleQuant)
    }

    /// Decodes as `init(from:)`, also taking `target_modules` as a list and `rank` as a number (as YAML writes them).
    public init(flexibleFrom decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        loraRank = try c.decodeIfPresent(Int.self, forKey: .loraRank)
        loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha)
        loraDropout = try c.decodeIfPresent(Double.self, forKey: .loraDropout)
        useRslora = try c.decodeIfPresent(Bool.self, forKey: .useRslora)
        decompMode = try Self.text(c, .decompMode)
        rank = try Self.text(c, .rank)
        trainPosition = try c.decodeIfPresent(String.self, forKey: .trainPosition)
        sMergedTo = try c.decodeIfPresent(String.self, forKey: .sMergedTo)
        convertMode = try c.decodeIfPresent(String.self, forKey: .convertMode)
        inputFactorization = try Self.text(c, .inputFactorization)
        targetModules = try Self.text(c, .targetModules)
        factorizeByHead = try c.decodeIfPresent(Bool.self, forKey: .factorizeByHead)
        normalizeAfterUpdate = try c.decodeIfPresent(Bool.self, forKey: .normalizeAfterUpdate)
        trainBias = try c.decodeIfPresent(Bool.self, forKey: .trainBias)
        quantBlockLayout = try c.decodeIfPresent(String.self, forKey: .quantBlockLayout)
        doubleQuant = try c.decodeIfPresent(Bool.self, forKey: .doubleQuant)
    }

    /// A text value given as text, a number, or a list (joined with commas).
    static func text(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> String? {
        if let list = try? c.decodeIfPresent([String].self, forKey: key) { return list.joined(separator: ",") }
        if let int = try? c.decodeIfPresent(Int.self, forKey: key) { return String(int) }
        if let number = try? c.decodeIfPresent(Double.self, forKey: key) { return String(number) }
        return try c.decodeIfPresent(String.self, forKey: key)
    }

    /// Every key, snake_case.
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// `self` with every nil value taken from `defaults`.
    public func filled(from defaults: MethodSettings) -> MethodSettings {
        var out = self
        out.loraRank = loraRank ?? defaults.loraRank; out.loraAlpha = loraAlpha ?? defaults.loraAlpha
        out.loraDropout = loraDropout ?? defaults.loraDropout; out.useRslora = useRslora ?? defaults.useRslora
        out.decompMode = decompMode ?? defaults.decompMode; out.rank = rank ?? defaults.rank
        out.trainPosition = trainPosition ?? defaults.trainPosition; out.sMergedTo = sMergedTo ?? defaults.sMergedTo
        out.convertMode = convertMode ?? defaults.convertMode; out.inputFactorization = inputFactorization ?? defaults.inputFactorization
        out.targetModules = targetModules ?? defaults.targetModules; out.factorizeByHead = factorizeByHead ?? defaults.factorizeByHead
        out.normalizeAfterUpdate = normalizeAfterUpdate ?? defaults.normalizeAfterUpdate; out.trainBias = trainBias ?? defaults.trainBias
        out.quantBlockLayout = quantBlockLayout ?? defaults.quantBlockLayout; out.doubleQuant = doubleQuant ?? defaults.doubleQuant
        return out
    }

    /// The `target_modules` text as a list.
    public var targetList: [String]? {
        targetModules.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }
}
