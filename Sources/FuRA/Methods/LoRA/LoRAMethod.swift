import FuRANN

extension MethodName { public static let lora: MethodName = "lora" }

/// LoRA (PEFT semantics; `use_rslora` scales by α/√r).
public enum LoRA: LoRAFamilyMember {
    public static let name = MethodName.lora
    public static let help = "LoRA: a trained low-rank update B·A beside each frozen projection (PEFT files)"
    public static let variant = LoRAVariant()
    public static var sftRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.sft) }
    public static var rlRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.rl) }
}

public typealias LoRAMethod = LoRAFamilyMethod<LoRA>
