import Foundation
import FuRAFormats

/// A multi-turn conversation with a model through its chat template, as `mlx_lm.chat`: every turn renders the whole
/// history with the generation prompt, streams the reply, and keeps it for the next turn. `fura chat` drives it from the
/// terminal; the commands are `/reset` (forget the conversation, keep the system message), `/exit` and `/help`.
public final class ChatSession {
    /// What a line of input did.
    public enum Outcome: Equatable, Sendable {
        case replied(String)
        case reset
        case help
        case exit
        case empty
    }

    public static let help = "/reset forgets the conversation, /exit (or end of input) quits, /help shows this"

    public let tokenizer: Tokenizer
    public let template: ChatTemplate
    public let generator: Generator
    public var options: GenerationOptions
    /// The conversation so far (the system message first when there is one).
    public private(set) var messages: [ChatMessage]
    private let opening: [ChatMessage]
    private var turn: UInt64 = 0

    /// `options.eosTokenIds` should hold the model's end tokens (the template's turn end among them).
    public init(model: GenerationModel, tokenizer: Tokenizer, system: String?, options: GenerationOptions) throws {
        guard let template = tokenizer.chatTemplate else {
            throw ModelError.unsupported(source: "tokenizer", what: "chat",
                                         reason: "the model has no chat template we recognize (ChatML, Llama 3, Gemma); use fura generate with a raw prompt")
        }
        self.tokenizer = tokenizer
        self.template = template
        self.generator = Generator(model: model)
        self.options = options
        opening = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        messages = opening
    }

    /// Handles one line typed by the user; a reply streams its text pieces to `emit` as they decode.
    public func handle(_ line: String, emit: @escaping (String) -> Void) throws -> Outcome {
        let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
        switch text {
        case "": return .empty
        case "/exit", "/quit": return .exit
        case "/help": return .help
        case "/reset":
            messages = opening
            return .reset
        default: return .replied(try reply(to: text, emit: emit))
        }
    }

    /// Appends the user's message, generates the assistant's reply and keeps both; on an error the user's message is
    /// dropped again, so the conversation stays as it was.
    public func reply(to text: String, emit: @escaping (String) -> Void) throws -> String {
        messages.append(ChatMessage(role: "user", content: text))
        do {
            let prompt = tokenizer.encode(template.render(messages, addGenerationPrompt: true), addBOS: false)
            var turnOptions = options
            turnOptions.seed = options.seed &+ turn
            var stream = tokenizer.streamDecoder(skipSpecial: true)
            let result = try generator.generate(prompts: [prompt], options: turnOptions,
                                                decode: { self.tokenizer.decode($0, skipSpecial: true) }) { _, token in
                emit(stream.append(token))
            }[0]
            emit(stream.finish())
            let answer = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
            messages.append(ChatMessage(role: "assistant", content: answer))
            turn += 1
            return answer
        } catch {
            messages.removeLast()
            throw error
        }
    }
}
