extension ModelFamily {
    /// Mistral: Llama's layer under its own names; GGUF permutes q/k rows.
    public static let mistral = ModelFamily(modelType: "mistral", className: "MistralForCausalLM", ggufArchitecture: "mistral",
                                            permutesQueryKeyInGGUF: true)
}
