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
        if let v = sMergedTo {
            let text = v.lowercased()
            if text == "none" || text == "null" { options.sMergedTo = nil } else {
                guard let value = SMergedTo(rawValue: text) else {
                    throw ConversionError.invalidValue(module: nil, option: "s_merged_to", value: v,
                                                       expected: SMergedTo.allCases.map(\.rawValue).joined(separator: ", ") + " or none")
                }
                options.sMergedTo = value
            }
        }
        if let v = convertMode {
            guard let value = ConvertMode(rawValue: v.lowercased()) else {
                throw ConversionError.invalidValue(module: nil, option: "convert_mode", value: v, expected: "svd or qr")
            }
            options.convertMode = value
        }
        if let v = inputFactorization { options.inputFactorization = try InputFactorizationSpec(parsing: v) }
        if let v = targetList { options.targetModules = v }
        if let v = factorizeByHead { options.factorizeByHead = v }
        if let v = normalizeAfterUpdate { options.normalizeAfterUpdate = v }
        if let v = trainBias { options.trainBias = v }
        try options.validate()
        return options
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
