import FuRAFormats

/// Errors building or loading a model, naming the file and the tensor.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingTensor(source: String, tensor: String)
    case shapeMismatch(source: String, tensor: String, expected: [Int], actual: [Int])
    case unsupported(source: String, what: String, reason: String)
    case badBatch(reason: String)
    case unknownSlot(name: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingTensor(source, tensor):
            return "\(source): tensor \(ErrorText.shortened(tensor)) is missing; is this a Llama-family checkpoint of the configured shape?"
        case let .shapeMismatch(source, tensor, expected, actual):
            return "\(source): tensor \(ErrorText.shortened(tensor)) has shape \(actual), expected \(expected) from the model config"
        case let .unsupported(source, what, reason): return "\(source): unsupported \(ErrorText.shortened(what)): \(ErrorText.shortened(reason, limit: 300))"
        case let .badBatch(reason): return "bad token batch: \(reason)"
        case let .unknownSlot(name): return "no linear slot named \(name)"
        case let .unreadable(path, reason): return "\(path): \(reason)"
        }
    }
}
