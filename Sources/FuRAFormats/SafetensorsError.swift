/// Errors from reading and writing safetensors files; each names the file and what was expected.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case tooSmall(path: String, size: Int)
    case headerTooLarge(path: String, length: UInt64, fileSize: Int)
    case invalidHeader(path: String, reason: String)
    case invalidTensor(path: String, tensor: String, reason: String)
    case unsupportedDtype(path: String, tensor: String, dtype: String)
    case tensorNotFound(path: String, tensor: String)
    case missingModelFiles(directory: String)
    case invalidIndex(path: String, reason: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .tooSmall(path, size): return "'\(path)' is not a safetensors file: \(size) bytes, fewer than the 8-byte header length"
        case let .headerTooLarge(path, length, size):
            return "'\(path)': the header claims \(length) bytes but the file has \(size) (limit 100 MB); the file is truncated or not safetensors"
        case let .invalidHeader(path, reason): return "'\(path)': invalid safetensors header: \(reason)"
        case let .invalidTensor(path, tensor, reason): return "'\(path)': tensor '\(tensor)': \(reason)"
        case let .unsupportedDtype(path, tensor, dtype):
            return "'\(path)': tensor '\(tensor)' has dtype \(dtype); FuRA reads F32, F16 and BF16 (convert the checkpoint to one of these)"
        case let .tensorNotFound(path, tensor): return "'\(path)' has no tensor named '\(tensor)'"
        case let .missingModelFiles(directory):
            return "'\(directory)' has neither model.safetensors nor model.safetensors.index.json"
        case let .invalidIndex(path, reason): return "'\(path)': invalid safetensors index: \(reason)"
        case let .cannotWrite(path, reason): return "cannot write '\(path)': \(reason)"
        }
    }
}
