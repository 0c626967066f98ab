/// The registered families: adding one is its file plus one line here.
extension ModelFamily {
    public static let registered: [ModelFamily] = [
        .llama,
        .mistral,
        .qwen2,
        .qwen3,
        .phi3,
        .gemma3,
    ]

    /// The family of an HF `model_type`, nil when none is registered.
    public static func named(_ modelType: String) -> ModelFamily? {
        registered.first { $0.modelType == modelType }
    }

    /// The family of a GGUF `general.architecture`, nil when none is registered.
    public static func forGGUF(architecture: String) -> ModelFamily? {
        registered.first { $0.ggufArchitecture == architecture }
    }

    /// The registered `model_type`s, for error messages.
    public static var supportedModelTypes: String { registered.map(\.modelType).joined(separator: ", ") }
}
