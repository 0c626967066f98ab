import Foundation

extension AdapterMethod {
    /// A warning when the adapter names a different base than the one loaded, nil when they agree: the same resolved
    /// path, or a last path component that starts the other's (a copied model, or a hub id such as
    /// `HuggingFaceTB/SmolLM2-135M-Instruct` for `SmolLM2-135M-Instruct.Q4_1.gguf`). Adapters name no base: nil.
    public func baseModelMismatch(loadedPath: String) -> String? {
        guard !baseModel.isEmpty else { return nil }
        let loadedURL = URL(fileURLWithPath: loadedPath).standardizedFileURL.resolvingSymlinksInPath()
        let storedURL = URL(fileURLWithPath: baseModel).standardizedFileURL.resolvingSymlinksInPath()
        if baseModel.hasPrefix("/"), storedURL.path == loadedURL.path { return nil }
        let storedName = storedURL.lastPathComponent.lowercased(), loadedName = loadedURL.lastPathComponent.lowercased()
        if !storedName.isEmpty, loadedName.hasPrefix(storedName) || storedName.hasPrefix(loadedName) { return nil }
        return "warning: the adapter was trained on base '\(baseModel)', but the loaded model is '\(loadedURL.path)'; "
            + "pass --model \(baseModel) unless the two are the same weights"
    }
}
