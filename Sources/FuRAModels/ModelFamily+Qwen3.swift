extension ModelFamily {
    /// Qwen3: Llama's layer with per-head q/k RMSNorm before RoPE (implied when the config says nothing).
    public static let qwen3 = ModelFamily(modelType: "qwen3", className: "Qwen3ForCausalLM", ggufArchitecture: "qwen3",
                                          defaultQKNorm: true, tokenizerPre: "qwen2")
}
