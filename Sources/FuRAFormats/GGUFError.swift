/// Errors from reading and writing GGUF files; each names the file and what was expected.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
    case badMagic(path: String, found: UInt32)
    case unsupportedVersion(path: String, version: UInt32)
    /// The file ends before a structure it declares (at `offset`, needing `needed` bytes).
    case truncated(path: String, what: String, offset: Int, needed: Int)
    /// A count or length in the header is larger than the file can hold.
    case implausibleCount(path: String, what: String, count: UInt64, limit: Int)
    case unknownValueType(path: String, key: String, type: UInt32)
    case unknownTensorType(path: String, tensor: String, type: UInt32)
    case invalidString(path: String, offset: Int)
    case duplicateKey(path: String, key: String)
    case invalidAlignment(path: String, alignment: Int)
    case invalidTensor(path: String, tensor: String, reason: String)
    case tensorNotFound(path: String, tensor: String)
    case unsupportedTensorType(path: String, tensor: String, type: GGMLType)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badMagic(path, found):
            return "'\(path)' is not a GGUF file: magic is 0x\(String(found, radix: 16)), expected 0x46554747 ('GGUF')"
        case let .unsupportedVersion(path, version):
            return "'\(path)': GGUF version \(version) is not supported (expected 2 or 3); re-convert with a current llama.cpp"
        case let .truncated(path, what, offset, needed):
            return "'\(path)' is truncated: \(ErrorText.shortened(what)) at byte \(offset) needs \(needed) more bytes than the file has"
        case let .implausibleCount(path, what, count, limit):
            return "'\(path)': \(ErrorText.shortened(what)) is \(count), but the file can hold at most \(limit); the file is corrupt"
        case let .unknownValueType(path, key, type):
            return "'\(path)': metadata key '\(ErrorText.shortened(key))' has unknown value type \(type) (expected 0…12)"
        case let .unknownTensorType(path, tensor, type):
            return "'\(path)': tensor '\(ErrorText.shortened(tensor))' has unknown ggml type \(type)"
        case let .invalidString(path, offset):
            return "'\(path)': the string at byte \(offset) is not valid UTF-8"
        case let .duplicateKey(path, key):
            return "'\(path)': metadata key '\(ErrorText.shortened(key))' appears twice"
        case let .invalidAlignment(path, alignment):
            return "'\(path)': general.alignment is \(alignment); expected a power of two between 1 and 65536"
        case let .invalidTensor(path, tensor, reason):
            return "'\(path)': tensor '\(ErrorText.shortened(tensor))': \(ErrorText.shortened(reason, limit: 300))"
        case let .tensorNotFound(path, tensor):
            return "'\(path)' has no tensor named '\(ErrorText.shortened(tensor))'"
        case let .unsupportedTensorType(path, tensor, type):
            return "'\(path)': tensor '\(ErrorText.shortened(tensor))' has type \(type), which FuRA cannot dequantize (supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, q8_K); re-quantize the model with one of these"
        case let .cannotWrite(path, reason):
            return "cannot write GGUF '\(path)': \(reason)"
        }
    }
}
