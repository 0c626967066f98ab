import FuRA
import FuRANN

/// What an adapter directory says about the method that made it: enough to re-apply it to a fresh base model.
public struct AdapterMethod: Equatable, Sendable {
    /// lora, dora, qlora, qdora, fura or svd.
    public var method: TrainMethod
    /// The LoRA-family rank, alpha, dropout and rsLoRA flag (unused by fura/svd).
    public var lora: LoRAOptions
    /// The LoRA-family target leaf names (`q_proj`, …).
    public var targetModules: [String]
    /// The conversion settings of fura/svd (nil for the LoRA family).
    public var conversion: ConversionOptions?
    /// The base model the adapter was trained on (a path or a hub id; informative).
    public var baseModel: String
    /// The NF4 settings of qfura (nil for other methods).
    public var quantization: QFuRAOptions?

    public init(method: TrainMethod, lora: LoRAOptions = LoRAOptions(), targetModules: [String] = [],
                conversion: ConversionOptions? = nil, baseModel: String = "", quantization: QFuRAOptions? = nil) {
        self.method = method
        self.lora = lora
        self.targetModules = targetModules
        self.conversion = conversion
        self.baseModel = baseModel
        self.quantization = quantization ?? (method == .qfura ? QFuRAOptions() : nil)
    }

    /// The description of a run set up by `TrainMethodSetup.apply(config, to:, conversion:)`.
    public init(config: TrainConfig, conversion: ConversionOptions? = nil) {
        let quantized = config.method == .qlora || config.method == .qdora
        self.init(method: config.method,
                  lora: LoRAOptions(rank: config.loraRank ?? 64, alpha: Float(config.loraAlpha ?? 128), dropout: Float(config.loraDropout ?? 0.05)),
                  targetModules: quantized ? TrainMethodSetup.allProjections : TrainMethodSetup.loraTargets,
                  conversion: config.usesConversion
                      ? (conversion ?? (try? config.conversionOptions()) ?? ConversionOptions(method: config.method == .svd ? .svd : .fura)) : nil,
                  baseModel: config.model,
                  quantization: config.method == .qfura ? (try? config.quantizationOptions()) : nil)
    }

    /// Whether the method converts projections (fura, qfura, svd) and so stores conversion options and fingerprints.
    public var usesConversion: Bool { method == .fura || method == .qfura || method == .svd }
    /// Whether the method wraps projections in LoRA/DoRA adapters.
    public var isLoRAFamily: Bool { [.lora, .dora, .qlora, .qdora].contains(method) }
    /// Whether the adapters add a DoRA magnitude.
    public var usesDoRA: Bool { method == .dora || method == .qdora }
    /// The storage of the frozen base under the adapters.
    public var baseFormat: FrozenWeightFormat { method == .qlora || method == .qdora ? .nf4DoubleQuant : .float32 }
}

extension TrainConfig {
    /// Whether the method converts projections (fura, qfura, svd).
    public var usesConversion: Bool { method == .fura || method == .qfura || method == .svd }
}
