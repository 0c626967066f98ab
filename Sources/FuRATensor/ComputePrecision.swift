/// The arithmetic of a training run's large products (`fura train --precision`, config key `precision`).
///
/// - `f32`: every product in `Float` (sgemm and the f32 panel kernel) — the exact twin.
/// - `bf16`: the large products with a frozen or re-packed operand (forward y = x·Wᵀ and input gradient dX = dY·W
///   of frozen weights, frozen BTT cores, the LM head, and full fine-tuning's weights) read both operands rounded to
///   bf16 and sum in f32 (AVX512-BF16 dot products, `PanelMatrix.Storage.bfloat16Dot`); the small trainable products,
///   weight gradients, losses, norms and the optimizer (f32 masters, AdamW state) stay f32 — PyTorch's bf16 autocast.
public enum ComputePrecision: String, Sendable, Codable, CaseIterable {
    case f32
    case bf16

    /// The panel storage of a weight multiplied at this precision.
    public var panelStorage: PanelMatrix.Storage { self == .bf16 ? .bfloat16Dot : .float32 }

    /// The default of `fura train` and `fura grpo` when neither `--precision` nor the config file names one: bf16
    /// where the CPU has AVX512-BF16 — there the FuRA step is 1.4–1.6× faster than f32 (in 8 % more memory, L's bf16
    /// panels) with the same loss curve and accuracy (README, “Speed”) — else f32, whose portable bf16 path would be
    /// slower. A saved config without the key (written before it existed) reads as f32, and code that builds a
    /// `TrainConfig` or `GRPOOptions` itself gets f32, the exact twin, unless it asks.
    public static var trainingDefault: ComputePrecision { PanelMatrix.hasBFloat16DotInstructions ? .bf16 : .f32 }
}
