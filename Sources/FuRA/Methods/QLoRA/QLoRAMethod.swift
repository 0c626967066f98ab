import FuRANN

extension MethodName { public static let qlora: MethodName = "qlora" }

/// QLoRA: LoRA over an NF4 (double-quantized) frozen base; the reference recipe is r 48, α 96 on all seven projections (Docs/methods.md §11).
public enum QLoRA: LoRAFamilyMember {
    public static let name = MethodName.qlora
    public static let help = "QLoRA: LoRA over an NF4 frozen base (PEFT files; the base is quantized on load)"
    public static let variant = LoRAVariant(base: .nf4DoubleQuant)
    public static var sftRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.quantized(rank: 48, alpha: 96)) }
    public static var rlRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.quantizedRL) }
}

public typealias QLoRAMethod = LoRAFamilyMethod<QLoRA>
