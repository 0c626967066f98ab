/// Errors from loading a tokenizer; each names the source and the field.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingField(source: String, field: String)
    case unsupportedModel(source: String, model: String)
    case unsupportedPreTokenizer(source: String, name: String)
    case invalidField(source: String, field: String, reason: String)

    public var description: String {
        switch self {
        case let .missingField(source, field): return "\(source): the tokenizer field '\(ErrorText.shortened(field))' is missing"
        case let .unsupportedModel(source, model):
            return "\(source): tokenizer model '\(ErrorText.shortened(model))' is not supported (FuRA reads byte-level BPE: GGUF 'gpt2', tokenizer.json 'BPE' with a ByteLevel pre-tokenizer)"
        case let .unsupportedPreTokenizer(source, name):
            return "\(source): pre-tokenizer '\(ErrorText.shortened(name))' is not supported (supported: \(PreTokenizer.allCases.map(\.rawValue).joined(separator: ", ")) and their llama.cpp aliases)"
        case let .invalidField(source, field, reason): return "\(source): tokenizer field '\(field)' is invalid: \(ErrorText.shortened(reason, limit: 300))"
        }
    }
}
