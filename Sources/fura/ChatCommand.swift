import ArgumentParser
import Foundation
import FuRAModels
import FuRATensor

/// `fura chat --model MODEL [--adapter DIR]`: a multi-turn conversation in the terminal, as `mlx_lm.chat`.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Chat with a model in the terminal through its chat template (\(ChatSession.help)).")

    @Option(help: "A .gguf file or an HF model directory.") var model: String
    @Option(help: "An adapter directory (from `fura train`) to apply without merging.") var adapter: String?
    @Option(help: "A system message (default: the template's own).") var system: String?
    @OptionGroup var sampling: SamplingOptionGroup
    @Option(help: "Weights for generation: f32, bf16, q8, gguf, bf16-compute or llama-cpp (as fura generate).") var precision: GenerationWeightPrecision = .float32
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func run() throws {
        let (loaded, tokenizer) = try loadModelWithTokenizer(model, adapter: adapter, threads: threads, purpose: "chat")
        let eos = Set([tokenizer.eosId, loaded.config.eosTokenId].compactMap { $0 })
        let engine = try GenerationModel(model: loaded.model, precision: precision, gguf: loaded.gguf)
        let session = try ChatSession(model: engine, tokenizer: tokenizer, system: system,
                                      options: sampling.generationOptions(eos: eos))
        let out = FileHandle.standardOutput
        func write(_ text: String) { out.write(Data(text.utf8)) }
        write("[fura chat: \(model)\(adapter.map { " + \($0)" } ?? ""); \(ChatSession.help)]\n")
        while true {
            write(">> ")
            guard let line = readLine() else { write("\n"); return }
            do {
                switch try session.handle(line, emit: write) {
                case .replied: write("\n")
                case .reset: write("[conversation cleared]\n")
                case .help: write("[\(ChatSession.help)]\n")
                case .exit: return
                case .empty: continue
                }
            } catch {
                // One bad turn (too long a context, say) does not end the conversation.
                FileHandle.standardError.write(Data("fura chat: \(error)\n".utf8))
            }
        }
    }
}
