import FuRANN

extension MethodName { public static let qlora: MethodName = "qlora" }

/// QLoRA: LoRA over an NF4 (double-quantized) frozen base (Docs/methods.md §11).
public struct QLoRAMethod: LoRAFamilyMethod {
    public static let name = MethodName.qlora
    public static let help = "QLoRA: LoRA over an NF4 frozen base (PEFT files; the base is quantized on load)"
    public static let variant = LoRAVariant(base: .nf4DoubleQuant)
    /// Spec §3.4: r 48, α 96, dropout 0.05 on all seven projections.
    public static var sftRecipe: MethodRecipe {
        MethodRecipe(settings: MethodSettings(loraRank: 48, loraAlpha: 96, loraDropout: 0.05, targetModules: "all-linear"))
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
