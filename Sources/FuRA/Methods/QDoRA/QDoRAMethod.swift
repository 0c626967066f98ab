import FuRANN

extension MethodName { public static let qdora: MethodName = "qdora" }

/// QDoRA: DoRA over an NF4 (double-quantized) frozen base; the reference recipe is r 64, α 128 on all seven projections (Docs/methods.md §12).
public enum QDoRA: LoRAFamilyMember {
    public static let name = MethodName.qdora
    public static let help = "QDoRA: DoRA over an NF4 frozen base (PEFT files; the base is quantized on load)"
    public static let variant = LoRAVariant(dora: true, base: .nf4DoubleQuant)
    public static var sftRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.quantized(rank: 64, alpha: 128)) }
    public static var rlRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.quantizedRL) }
}

public typealias QDoRAMethod = LoRAFamilyMethod<QDoRA>
