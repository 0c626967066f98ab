import FuRANN

/// Which DoRA forward formula to use.
public enum DoRAFormula: String, Codable, Sendable {
    /// PEFT `use_dora=True`: `y = x·Wᵀ + b + (m/‖·‖ − 1)⊙(x̃·Wᵀ) + (m/‖·‖)⊙(s·x̃·Aᵀ·Bᵀ)`, x̃ = dropout(x)
    /// (without dropout this is `(m/‖·‖)⊙(x·(W+sBA)ᵀ) + b`).
    case peft
    /// The QDoRA baseline's fast layer (Docs/methods.md §6): `y = (m/‖·‖)⊙(x·Wᵀ + b + s·x̃·Aᵀ·Bᵀ)` — the bias is
    /// scaled too and the base path never sees dropout.
    case qdoraFast = "qdora_fast"
}

/// The DoRA settings of one adapted layer: LoRA's plus the norm cache of the QDoRA baseline.
public struct DoRAOptions: Codable, Equatable, Sendable {
    /// Rank, α, dropout, rsLoRA.
    public var lora: LoRAOptions
    /// Recompute ‖W + sBA‖ every k-th training forward (`dora_norm_cache_steps`); 1 ≡ PEFT (every forward).
    public var normCacheSteps: Int
    /// The forward formula.
    public var formula: DoRAFormula

    enum CodingKeys: String, CodingKey {
        case lora, normCacheSteps = "norm_cache_steps", formula
    }

    public init(lora: LoRAOptions = LoRAOptions(), normCacheSteps: Int = 1, formula: DoRAFormula = .peft) {
        self.lora = lora
        self.normCacheSteps = normCacheSteps
        self.formula = formula
    }

    /// Throws `LayerError.invalidOption` for bad LoRA options or k ≤ 0.
    public func validate(layer: String) throws {
        try lora.validate(layer: layer)
        guard normCacheSteps > 0 else {
            throw LayerError.invalidOption(layer: layer, option: "norm_cache_steps", value: "\(normCacheSteps)",
                                           reason: "must be a positive integer (1 recomputes the norm every forward, as PEFT)")
        }
    }
}
