import Foundation

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
/// - `llama31` (Llama 3.1/3.2/3.3 without tools): as `llama3`, but a system block always comes first:
///   `Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n{system message, trimmed or empty}`; the date is
///   the template's literal default ("26 Jul 2024" in 3.1), or today's when it calls `strftime_now` (3.2, as transformers).
/// - `gemma` (Gemma 2/3): `{bos}` then `<start_of_turn>{user|model}\n{content, trimmed}<end_of_turn>\n` per message, a
///   system message put before the first turn's content followed by a blank line, generation prompt `<start_of_turn>model\n`.
public struct ChatTemplate: Equatable, Sendable {
    public enum Format: String, Sendable { case chatML, llama3, llama31, gemma }

    public var format: Format
    /// The system message inserted when a conversation has none (ChatML templates that define one).
    public var defaultSystemMessage: String?
    /// The BOS text a Llama-3 template puts first.
    public var bosToken: String

    /// The "Today Date" of a `llama31` template (`%d %b %Y`).
    public var dateString: String

    public init(format: Format, defaultSystemMessage: String? = nil, bosToken: String = "", dateString: String = "26 Jul 2024") {
        self.format = format
        self.defaultSystemMessage = defaultSystemMessage
        self.bosToken = bosToken
        self.dateString = dateString
    }

    /// Today's date as Llama 3.2 templates print it through `strftime_now("%d %b %Y")`.
    public static func todayString() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "dd MMM yyyy"
        return formatter.string(from: Date())
    }

    /// The literal of `set date_string = "…"` in a template, if any.
    static func literalDate(in template: String) -> String? {
        guard let start = template.range(of: "date_string = \""),
              let end = template.range(of: "\"", range: start.upperBound..<template.endIndex) else { return nil }
        return String(template[start.upperBound..<end.lowerBound])
    }

    /// The template a model's Jinja string describes, or nil when it is not one FuRA knows.
    public static func detect(templateString: String?, bosToken: String? = nil, eosToken: String? = nil) -> ChatTemplate? {
        guard let template = templateString else { return nil }
        if template.contains("<|im_start|>") {
            return ChatTemplate(format: .chatML, defaultSystemMessage: defaultChatMLSystem(in: template))
        }
        if template.contains("<|start_header_id|>") && template.contains("Cutting Knowledge Date") {
            let date = template.contains("strftime_now") ? todayString() : (literalDate(in: template) ?? "26 Jul 2024")
            return ChatTemplate(format: .llama31, bosToken: bosToken ?? "<|begin_of_text|>", dateString: date)
        }
        if template.contains("<start_of_turn>") && template.contains("<end_of_turn>") {
            return ChatTemplate(format: .gemma, bosToken: bosToken ?? "<bos>")
        }
        if template.contains("<|start_header_id|>") && template.contains("<|eot_id|>") {
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
        case .gemma:
            var rest = messages[...]
            var prefix = ""
            if let first = rest.first, first.role == "system" {
                prefix = first.content + "\n\n"
                rest = rest.dropFirst()
            }
            out += bosToken
            for (i, m) in rest.enumerated() {
                let role = m.role == "assistant" ? "model" : m.role
                out += "<start_of_turn>\(role)\n" + (i == 0 ? prefix : "") + Self.jinjaTrim(m.content) + "<end_of_turn>\n"
            }
            if addGenerationPrompt { out += "<start_of_turn>model\n" }
        case .llama31:
            var rest = messages[...]
            var system = ""
            if let first = rest.first, first.role == "system" {
                system = Self.jinjaTrim(first.content)
                rest = rest.dropFirst()
            }
            out += bosToken + "<|start_header_id|>system<|end_header_id|>\n\n"
            out += "Cutting Knowledge Date: December 2023\nToday Date: \(dateString)\n\n\(system)<|eot_id|>"
            for m in rest {
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
