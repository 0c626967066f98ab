import FuRANN

extension MethodName { public static let qdora: MethodName = "qdora" }

/// QDoRA: DoRA over an NF4 (double-quantized) frozen base (Docs/methods.md §6).
public struct QDoRAMethod: LoRAFamilyMethod {
    public static let name = MethodName.qdora
    public static let help = "QDoRA: DoRA over an NF4 frozen base (PEFT files; the base is quantized on load)"
    public static let variant = LoRAVariant(dora: true, base: .nf4DoubleQuant)
    /// Spec §3.5: r 64, α 128, dropout 0.05 on all seven projections.
    public static var sftRecipe: MethodRecipe {
        MethodRecipe(settings: MethodSettings(loraRank: 64, loraAlpha: 128, loraDropout: 0.05, targetModules: "all-linear"))
    }
    public static var rlRecipe: MethodRecipe {
        MethodRecipe(settings: MethodSettings(loraRank: 32, loraAlpha: 32, loraDropout: 0, targetModules: "all-linear"))
    }
    public let lora: LoRAOptions
    public let targetModules: [String]
    public init(lora: LoRAOptions, targetModules: [String]) throws {
        self.lora = lora; self.targetModules = targetModules
        _ = try targetLeaves()
    }
}
