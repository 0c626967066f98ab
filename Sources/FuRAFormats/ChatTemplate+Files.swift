import Foundation

extension ChatTemplate {
    /// The file current transformers saves the template in, beside `tokenizer_config.json`.
    public static let jinjaFileName = "chat_template.jinja"

    /// The chat template string an HF directory holds: `tokenizer_config.json`'s `chat_template` (a string, or the
    /// `default` entry of a named list), else `chat_template.jinja` (transformers 5 writes it there). Nil when neither.
    public static func templateString(directory: String, tokenizerConfig: [String: Any]?) -> String? {
        if let text = tokenizerConfig?["chat_template"] as? String { return text }
        if let named = tokenizerConfig?["chat_template"] as? [[String: Any]],
           let text = named.first(where: { $0["name"] as? String == "default" })?["template"] as? String {
            return text
        }
        let file = URL(fileURLWithPath: directory).appendingPathComponent(jinjaFileName).path
        return FileManager.default.contents(atPath: file).map { String(decoding: $0, as: UTF8.self) }
    }
}
