extension ModelFamily {
    /// Mistral: Llama's layer under its own names, `sliding_window` (when set, v0.1) on every layer; GGUF permutes q/k rows.
    public static let mistral = ModelFamily(modelType: "mistral", className: "MistralForCausalLM", ggufArchitecture: "mistral",
                                            permutesQueryKeyInGGUF: true, slidingWindowOnEveryLayer: true)
}
