extension ModelFamily {
    /// Qwen2/2.5: Llama's layer with q/k/v biases (implied when the config says nothing).
    public static let qwen2 = ModelFamily(modelType: "qwen2", className: "Qwen2ForCausalLM", ggufArchitecture: "qwen2",
                                          defaultAttentionBias: true, tokenizerPre: "qwen2")
}
