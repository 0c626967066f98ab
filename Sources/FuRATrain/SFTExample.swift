import FuRAFormats

/// One supervised example before tokenization: a source (prompt, masked unless training on inputs)
/// followed by a target (the completion that takes loss).
public struct SFTExample: Equatable, Sendable {
    /// The prompt text; empty for plain `text` records (every token is a target).
    public var source: String
    /// The completion text, end-of-sequence text included where the format adds it.
    public var target: String
    /// A multimodal example's pieces in order (text that trains or not, and image rows); when set it replaces
    /// `source` and `target` (LLaVA's visual instruction records).
    public var parts: [Part]?

    /// One piece of a multimodal example.
    public enum Part: Equatable, Sendable {
        /// Text; its tokens are targets when `trains`.
        case text(String, trains: Bool)
        /// `count` rows of image `source` (their ids are placeholders, never targets).
        case image(source: Int, count: Int)
    }

    public init(source: String, target: String) {
        self.source = source
        self.target = target
    }

    public init(parts: [Part]) {
        source = ""
        target = ""
        self.parts = parts
    }
}

/// How a data loader turns text into token ids; supplied by the caller (the tokenizer room or a test).
public struct SFTTokenizer {
    /// Text → token ids, exactly as the model's tokenizer encodes it (special tokens included as it parses them).
    public var encode: (String) throws -> [Int]
    /// The end-of-sequence token as text (`"</s>"`, `"<|end_of_text|>"`), appended to LLM-Adapters targets.
    public var eosText: String
    /// The padding id for right padding.
    public var padId: Int
    /// Renders chat messages; the Bool asks for the assistant generation prompt at the end. Needed only for
    /// `messages` records.
    public var chatTemplate: (([ChatMessage], Bool) throws -> String)?

    public init(encode: @escaping (String) throws -> [Int], eosText: String, padId: Int,
                chatTemplate: (([ChatMessage], Bool) throws -> String)? = nil) {
        self.encode = encode
        self.eosText = eosText
        self.padId = padId
        self.chatTemplate = chatTemplate
    }
}
