import FuRANN

extension MethodName { public static let pissa: MethodName = "pissa" }

/// PiSSA (PEFT `init_lora_weights="pissa"`): LoRA whose A, B start from the principal singular vectors and
/// values of W, with the residual W − s·B·A frozen. Its adapter is saved as PEFT saves one for sharing
/// (`path_initial_model_for_weight_conversion`): a plain LoRA of rank 2r over the original base.
public enum PiSSA: LoRAFamilyMember {
    public static let name = MethodName.pissa
    public static let help = "PiSSA: LoRA initialized from the principal singular vectors and values of W, residual frozen"
    public static let variant = LoRAVariant(principalInit: true)
    public static var sftRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.sft) }
    public static var rlRecipe: MethodRecipe { MethodRecipe(settings: LoRARecipes.rl) }
}

public typealias PiSSAMethod = LoRAFamilyMethod<PiSSA>
