import ArgumentParser
import Foundation
import FuRAFormats

/// `fura tokenize`: token ids of a text with a model's tokenizer.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text (GGUF file or Hugging Face directory with tokenizer.json).")

    @Option(name: .long, help: "A .gguf file, a tokenizer.json, or a directory holding tokenizer.json.")
    var model: String

    @Option(name: .long, help: "The text to tokenize (special tokens such as <|im_start|> are recognized).")
    var text: String

    @Flag(name: .long, help: "Print {\"ids\": [...]} as JSON.")
    var json = false

    @Flag(name: .long, help: "Prepend the BOS token.")
    var addBos = false

    @Flag(name: .long, help: "Render the text as one user message with the model's chat template first.")
    var chat = false

    func run() throws {
        let tokenizer = try Tokenizer.load(model: model)
        var input = text
        if chat {
            guard let template = tokenizer.chatTemplate else {
                throw ValidationError("--chat: the model '\(model)' has no chat template FuRA recognizes (known: ChatML — SmolLM2, Qwen2, Qwen2.5 — Llama-3, Llama-3.1/3.2)")
            }
            input = template.render([ChatMessage(role: "user", content: text)], addGenerationPrompt: true)
        }
        let ids = tokenizer.encode(input, addBOS: addBos)
        if json {
            let data = try JSONSerialization.data(withJSONObject: ["ids": ids])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for id in ids { print("\(id)\t\(tokenizer.token(for: id)?.debugDescription ?? "?")") }
        }
    }
}
