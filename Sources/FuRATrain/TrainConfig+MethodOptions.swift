import FuRA

extension TrainConfig {
    /// The run's method with its options parsed and validated (no model needed); errors name the option.
    public func makeMethod(recipe: MethodRegistry.Recipe = .sft) throws -> any FineTuningMethod {
        do { return try MethodRegistry.make(method, settings: methodSettings, recipe: recipe) } catch let error as ConversionError {
            throw TrainingError.invalidOption(option: "method options", value: method.rawValue, reason: error.description)
        } catch let error as MethodError {
            throw TrainingError.invalidOption(option: "method options", value: method.rawValue, reason: error.description)
        }
    }

    /// The FuRA/SVD conversion options of this run; nil for the methods that do not convert.
    public func conversionOptions() throws -> ConversionOptions? {
        (try makeMethod() as? any ConvertingMethod)?.conversion
    }

    /// The QFuRA storage options of this run (`quant_block_layout`, `double_quant`; default flat with double quantization).
    public func quantizationOptions() throws -> QFuRAOptions {
        do { return try methodSettings.quantizationOptions() } catch {
            throw TrainingError.invalidOption(option: "quant_block_layout", value: methodSettings.quantBlockLayout ?? "", reason: "\(error)")
        }
    }

    /// Whether the method converts projections (fura, qfura, svd).
    public var usesConversion: Bool { AdapterMethod(method: method).usesConversion }
}

extension AdapterMethod {
    /// The description of a run set up by `TrainMethodSetup.apply(config, to:, conversion:)`.
    public init(config: TrainConfig, conversion: ConversionOptions? = nil) {
        var described = (try? config.makeMethod())?.describe(baseModel: config.model) ?? AdapterMethod(method: config.method, baseModel: config.model)
        if let conversion, described.usesConversion { described.conversion = conversion }
        self = described
    }
}
