import FuRANN

/// What an adapter directory says about the method that made it: enough to re-apply it to a fresh base model.
public struct AdapterMethod: Equatable, Sendable {
    /// The registered method (`lora`, `fura`, …).
    public var method: MethodName
    /// The LoRA-family rank, alpha, dropout and rsLoRA flag (unused by fura/svd).
    public var lora: LoRAOptions
    /// The LoRA-family target leaf names (`q_proj`, …).
    public var targetModules: [String]
    /// The conversion settings of fura/svd/qfura (nil for the LoRA family).
    public var conversion: ConversionOptions?
    /// The base model the adapter was trained on (a path or a hub id; informative).
    public var baseModel: String
    /// The NF4 settings of qfura (nil for other methods).
    public var quantization: QFuRAOptions?

    public init(method: MethodName, lora: LoRAOptions = LoRAOptions(), targetModules: [String] = [],
                conversion: ConversionOptions? = nil, baseModel: String = "", quantization: QFuRAOptions? = nil) {
        self.method = method
        self.lora = lora
        self.targetModules = targetModules
        self.conversion = conversion
        self.baseModel = baseModel
        self.quantization = quantization ?? (Self.format(of: method) == .converted(quantized: true) ? QFuRAOptions() : nil)
    }

    /// The file format of `method`'s adapters (the method declares it).
    public static func format(of method: MethodName) -> AdapterFormat {
        (try? MethodRegistry.type(of: method).adapterFormat) ?? .denseModel
    }

    /// How this adapter is written.
    public var format: AdapterFormat { Self.format(of: method) }
    /// Whether the method converts projections (fura, qfura, svd) and so stores conversion options and fingerprints.
    public var usesConversion: Bool { if case .converted = format { return true } else { return false } }
    /// Whether the method wraps projections in LoRA/DoRA adapters.
    public var isLoRAFamily: Bool { if case .peftLoRA = format { return true } else { return false } }
    /// Whether the adapters add a DoRA magnitude.
    public var usesDoRA: Bool { if case .peftLoRA(true, _) = format { return true } else { return false } }
    /// The storage of the frozen base under the adapters.
    public var baseFormat: FrozenWeightFormat { if case let .peftLoRA(_, base) = format { return base } else { return .float32 } }
}
