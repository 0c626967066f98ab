import FuRA

extension TrainConfig {
    /// The FuRA/SVD conversion options of this run: the method's defaults (the paper's for fura and qfura,
    /// the SVD recipe for svd) with the config's `decomp_mode`, `rank`, … keys applied; nil for the
    /// methods that do not convert.
    public func conversionOptions() throws -> ConversionOptions? {
        guard usesConversion else { return nil }
        do {
            var options = ConversionOptions(method: method == .svd ? .svd : .fura)
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
            if let v = targetModules { options.targetModules = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            if let v = factorizeByHead { options.factorizeByHead = v }
            if let v = normalizeAfterUpdate { options.normalizeAfterUpdate = v }
            if let v = trainBias { options.trainBias = v }
            try options.validate()
            return options
        } catch let error as ConversionError {
            throw TrainingError.invalidOption(option: "method options", value: method.rawValue, reason: error.description)
        }
    }

    /// The QFuRA storage options of this run (`quant_block_layout`, `double_quant`; default flat with double quantization).
    public func quantizationOptions() throws -> QFuRAOptions {
        var options = QFuRAOptions()
        do {
            if let v = quantBlockLayout { options.layout = try QFuRAOptions.parseLayout(v) }
        } catch {
            throw TrainingError.invalidOption(option: "quant_block_layout", value: quantBlockLayout ?? "", reason: "\(error)")
        }
        if let v = doubleQuant { options.doubleQuantization = v }
        return options
    }
}
