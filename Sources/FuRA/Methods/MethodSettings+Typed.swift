import FuRANN

/// The typed options behind the settings' text; every parse error names the key and the valid values.
extension MethodSettings {
    /// The largest LoRA rank accepted before any model is seen (a layer also refuses r > min(O, I)).
    public static let maximumLoRARank = 65_536

    /// FuRA/SVD conversion options: `base` (the method's defaults) with the set keys applied, validated.
    public func conversionOptions(base: ConversionOptions) throws -> ConversionOptions {
        var options = base
        if let v = decompMode { options.decompMode = try DecompModeSpec(parsing: v) }
        if let v = rank { options.rank = try BTTRank(parsing: v) }
        if let v = trainPosition { options.trainPosition = v }
        if let v = sMergedTo { options.sMergedTo = try Self.parseSMergedTo(v) }
        if let v = convertMode { options.convertMode = try Self.parseConvertMode(v) }
        if let v = inputFactorization { options.inputFactorization = try InputFactorizationSpec(parsing: v) }
        if let v = targetList { options.targetModules = v }
        if let v = factorizeByHead { options.factorizeByHead = v }
        if let v = normalizeAfterUpdate { options.normalizeAfterUpdate = v }
        if let v = trainBias { options.trainBias = v }
        try options.validate()
        return options
    }

    /// `s_merged_to`: one of `SMergedTo`, or `none`/`null` (nil).
    static func parseSMergedTo(_ text: String) throws -> SMergedTo? {
        let t = text.lowercased()
        if t == "none" || t == "null" { return nil }
        guard let value = SMergedTo(rawValue: t) else {
            throw ConversionError.invalidValue(module: nil, option: "s_merged_to", value: text,
                                               expected: SMergedTo.allCases.map(\.rawValue).joined(separator: ", ") + " or none")
        }
        return value
    }

    /// `convert_mode`: svd or qr.
    static func parseConvertMode(_ text: String) throws -> ConvertMode {
        guard let value = ConvertMode(rawValue: text.lowercased()) else {
            throw ConversionError.invalidValue(module: nil, option: "convert_mode", value: text, expected: "svd or qr")
        }
        return value
    }

    /// Checks each set value on its own, for any method (a command line is checked so before a config file names the
    /// method); the combination is checked when the method is built.
    public func checkEachValue() throws {
        if let v = decompMode { _ = try DecompModeSpec(parsing: v) }
        if let v = rank { _ = try BTTRank(parsing: v) }
        if let v = sMergedTo { _ = try Self.parseSMergedTo(v) }
        if let v = convertMode { _ = try Self.parseConvertMode(v) }
        let positions = Set(TrainPosition.allCases.map(\.rawValue) + SVDTrainPosition.allCases.map(\.rawValue))
        if let v = trainPosition, !positions.contains(v) {
            throw ConversionError.invalidValue(module: nil, option: "train_position", value: v,
                                               expected: "small, large or both (fura); output, input or both (svd)")
        }
        if let v = inputFactorization { _ = try InputFactorizationSpec(parsing: v) }
        if let v = targetList { _ = try ConversionOptions.leaves(of: v) }
        if let v = quantBlockLayout { _ = try QFuRAOptions.parseLayout(v) }
        if loraRank != nil || loraAlpha != nil || loraDropout != nil { _ = try loraOptions(method: .lora) }
    }

    /// LoRA-family options (rank, α, dropout, rsLoRA), checked: 1 ≤ r ≤ `maximumLoRARank`, α finite and > 0, dropout in [0, 1).
    public func loraOptions(method: MethodName) throws -> LoRAOptions {
        let rank = loraRank ?? 8
        guard rank >= 1, rank <= Self.maximumLoRARank else {
            throw MethodError.invalidOption(method: method.rawValue, option: "lora_rank", value: "\(rank)",
                                            expected: "an integer in 1…\(Self.maximumLoRARank)")
        }
        let alpha = loraAlpha ?? Double(rank)
        guard alpha.isFinite, alpha > 0, alpha <= Double(Float.greatestFiniteMagnitude) else {
            throw MethodError.invalidOption(method: method.rawValue, option: "lora_alpha", value: "\(alpha)", expected: "a finite number > 0")
        }
        let dropout = loraDropout ?? 0
        guard dropout >= 0, dropout < 1 else {
            throw MethodError.invalidOption(method: method.rawValue, option: "lora_dropout", value: "\(dropout)", expected: "a number in [0, 1)")
        }
        return LoRAOptions(rank: rank, alpha: Float(alpha), dropout: Float(dropout), useRSLoRA: useRslora ?? false)
    }

    /// The QFuRA storage options (`quant_block_layout`, `double_quant`; default flat with double quantization).
    public func quantizationOptions() throws -> QFuRAOptions {
        var options = QFuRAOptions()
        if let v = quantBlockLayout { options.layout = try QFuRAOptions.parseLayout(v) }
        if let v = doubleQuant { options.doubleQuantization = v }
        return options
    }

    /// The projection leaves `target_modules` selects (`fallback` when unset).
    public func targetLeaves(fallback: [String]) throws -> Set<String> {
        try ConversionOptions.leaves(of: targetList ?? fallback)
    }
}
