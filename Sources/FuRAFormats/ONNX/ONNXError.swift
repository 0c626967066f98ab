/// Errors from reading ONNX model files; each names the file and what was wrong.
public enum ONNXError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case notONNX(path: String, reason: String)
    case invalidTensor(path: String, tensor: String, reason: String)
    case missing(path: String, what: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "'\(path)': cannot read: \(reason)"
        case let .notONNX(path, reason): return "'\(path)' is not an ONNX model fura can read: \(reason)"
        case let .invalidTensor(path, tensor, reason):
            return "'\(path)': tensor '\(ErrorText.shortened(tensor))': \(reason)"
        case let .missing(path, what): return "'\(path)' has no \(what)"
        }
    }
}
