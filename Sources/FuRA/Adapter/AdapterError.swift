import FuRAFormats

/// Errors of reading, writing and applying adapter directories.
public enum AdapterError: Error, CustomStringConvertible, Equatable {
    /// A file of the adapter directory is missing or unreadable.
    case unreadable(path: String, reason: String)
    /// `adapter_config.json` holds a value this build cannot use.
    case badConfig(path: String, key: String, value: String, expected: String)
    /// A tensor the method needs is missing from `adapter_model.safetensors`.
    case missingTensor(path: String, name: String)
    /// The file holds a tensor the re-applied method has no place for.
    case unexpectedTensor(path: String, name: String)
    /// A stored tensor's shape differs from the re-applied method's parameter.
    case shapeMismatch(path: String, name: String, expected: [Int], actual: [Int])
    /// The frozen core recomputed from the base weights differs from the one the adapter was trained on.
    case fingerprintMismatch(path: String, module: String, expected: [Double], actual: [Double])
    /// The model holds nothing the method can save (not adapted, or adapted by another method).
    case nothingToSave(method: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read the adapter: \(reason)"
        case let .badConfig(path, key, value, expected):
            return "\(path): \(ErrorText.shortened(key)) = \(ErrorText.shortened(value)) is not usable; expected \(ErrorText.shortened(expected, limit: 300))"
        case let .missingTensor(path, name):
            return "\(path): tensor \(name) is missing; the adapter does not match the method in adapter_config.json"
        case let .unexpectedTensor(path, name):
            return "\(path): tensor \(name) has no place in the adapted model (wrong base model or target modules?)"
        case let .shapeMismatch(path, name, expected, actual):
            return "\(path): tensor \(name) has shape \(actual), the adapted model expects \(expected) (wrong base model or rank?)"
        case let .fingerprintMismatch(path, module, expected, actual):
            return "\(path): the frozen core of \(module) recomputed from the base weights does not match the adapter's fingerprint "
                + "(expected \(expected), got \(actual)); load the adapter onto the base model it was trained from"
        case let .nothingToSave(method, reason):
            return "cannot save a \(method) adapter: \(reason)"
        }
    }
}
