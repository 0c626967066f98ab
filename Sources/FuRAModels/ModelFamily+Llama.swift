extension ModelFamily {
    /// Llama 2/3 and SmolLM2: SiLU, w norms, separate projections; GGUF permutes q/k rows.
    public static let llama = ModelFamily(modelType: "llama", className: "LlamaForCausalLM", ggufArchitecture: "llama",
                                          permutesQueryKeyInGGUF: true, tokenizerPre: "llama-bpe")
}
