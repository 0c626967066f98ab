import FuRANN

extension MethodName { public static let dora: MethodName = "dora" }

/// DoRA (PEFT `use_dora`): LoRA plus a trained per-row magnitude.
public enum DoRA: LoRAFamilyMember {
    public static let name = MethodName.dora
    public static let help = "DoRA: LoRA with a trained per-row magnitude of the adapted weight (PEFT files)"
    public static let variant = LoRAVariant(dora: true)
    public static var sftRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.sft) }
    public static var rlRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.rl) }
}

public typealias DoRAMethod = LoRAFamilyMethod<DoRA>
