/// One message of a conversation.
public struct ChatMessage: Equatable, Sendable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// The chat formats FuRA renders natively, recognized from a model's Jinja template string.
///
/// - `chatML`: `<|im_start|>{role}\n{content}<|im_end|>\n` per message, generation prompt
///   `<|im_start|>assistant\n`; when the first message is not a system message, the template's default system
///   message is inserted first (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
///   Qwen2: "You are a helpful assistant."; Qwen2.5: "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.").
/// - `llama3`: `{bos}<|start_header_id|>{role}<|end_header_id|>\n\n{content, trimmed}<|eot_id|>` per message,
///   generation prompt `<|start_header_id|>assistant<|end_header_id|>\n\n`.
public struct ChatTemplate: Equatable, Sendable {
    public enum Format: String, Sendable { case chatML, llama3 }

    public var format: Format
    /// The system message inserted when a conversation has none (ChatML templates that define one).
    public var defaultSystemMessage: String?
    /// The BOS text a Llama-3 template puts first.
    public var bosToken: String

    public init(format: Format, defaultSystemMessage: String? = nil, bosToken: String = "") {
        self.format = format
        self.defaultSystemMessage = defaultSystemMessage
        self.bosToken = bosToken
    }

    /// The template a model's Jinja string describes, or nil when it is not one FuRA knows.
    public static func detect(templateString: String?, bosToken: String? = nil, eosToken: String? = nil) -> ChatTemplate? {
        guard let template = templateString else { return nil }
        if template.contains("<|im_start|>") {
            return ChatTemplate(format: .chatML, defaultSystemMessage: defaultChatMLSystem(in: template))
        }
        if template.contains("<|start_header_id|>") && template.contains("<|eot_id|>") && !template.contains("Cutting Knowledge Date") {
            return ChatTemplate(format: .llama3, bosToken: bosToken ?? "<|begin_of_text|>")
        }
        return nil
    }

    /// The literal default system message of a ChatML template: the text of a string literal that reads
    /// `<|im_start|>system\n…<|im_end|>` with no expression inside.
    static func defaultChatMLSystem(in template: String) -> String? {
        for newline in ["\n", "\\n"] {
            let head = "<|im_start|>system" + newline
            var search = template.startIndex
            while let start = template.range(of: head, range: search..<template.endIndex) {
                search = start.upperBound
                guard let end = template.range(of: "<|im_end|>", range: start.upperBound..<template.endIndex) else { break }
                let body = template[start.upperBound..<end.lowerBound]
                if body.isEmpty || body.contains("'") || body.contains("\"") || body.contains("{") || body.contains("}") { continue }
                return newline == "\\n" ? body.replacingOccurrences(of: "\\n", with: "\n") : String(body)
            }
        }
        return nil
    }

    /// The prompt text for `messages`, ending with the assistant header when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        switch format {
        case .chatML:
            if let system = defaultSystemMessage, let first = messages.first, first.role != "system" {
                out += "<|im_start|>system\n\(system)<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            out += bosToken
            for m in messages {
                out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(Self.jinjaTrim(m.content))<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return out
    }

    /// Jinja's `trim`: strips leading and trailing whitespace.
    static func jinjaTrim(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[first...last])
        return String(view)
    }
}
