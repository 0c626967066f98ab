import FuRAFormats

/// The model's tokenizer as an `EvalTokenizer`.
public struct TokenizerEncoder: EvalTokenizer {
    public let tokenizer: Tokenizer
    /// Whether a BOS id is put first (the tokenizer's own default unless told otherwise).
    public let addBOS: Bool

    public init(tokenizer: Tokenizer, addBOS: Bool? = nil) {
        self.tokenizer = tokenizer
        self.addBOS = addBOS ?? tokenizer.addsBOSByDefault
    }

    public func encode(_ text: String) throws -> [Int] { tokenizer.encode(text, addBOS: addBOS) }
}
