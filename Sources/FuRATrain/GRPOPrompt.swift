import FuRAFormats

/// The prompt of the math RL track (Docs/tracks.md §5): the `boxed.prompt` template with the question put in
/// by plain replacement, then the model's chat template (user turn + generation prompt) when it has one.
public enum GRPOPrompt {
    /// The exact bytes of `boxed.prompt` after `.strip()`, including the literal doubled backslash `\\boxed`.
    public static let boxedTemplate = #"""
    Think for a bit about the question and then put your final answer as a number inside \\boxed{}. (i.e. \\boxed{answer here})
    Question: {question}
    """#

    /// `template.replace("{question}", question)` (no formatting, so the model sees `\\boxed{}`).
    public static func userText(question: String) -> String {
        boxedTemplate.replacingOccurrences(of: "{question}", with: question)
    }

    /// The full prompt text: through `chatTemplate` when there is one, else the raw text.
    public static func text(question: String, chatTemplate: ChatTemplate?) -> String {
        let user = userText(question: question)
        guard let chatTemplate else { return user }
        return chatTemplate.render([FuRAFormats.ChatMessage(role: "user", content: user)], addGenerationPrompt: true)
    }
}
