import ArgumentParser
import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor

/// `fura generate --model MODEL --prompt TEXT …`: continues a prompt, streaming text as it decodes.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Continue a prompt with a model (greedy, sampling or beam search).")

    @Option(help: "A .gguf file or an HF model directory.") var model: String
    @Option(help: "An adapter directory (from `fura train`) to apply without merging.") var adapter: String?
    @Option(help: "The prompt text (the user message with --chat).") var prompt: String
    @Flag(help: "Render the prompt through the model's chat template, with the generation prompt.") var chat = false
    @Option(help: "A system message for --chat (default: the template's own).") var system: String?
    @OptionGroup var sampling: SamplingOptionGroup
    @Option(help: "Stop when the output contains this text (repeatable).") var stop: [String] = []
    @Option(help: "Beam search with N beams (HF semantics; 1 is plain decoding).") var beams = 1
    @Option(help: "Weights for generation: f32; bf16 (half the memory traffic, not bit-exact); q8 (8-bit blocks, lossy); gguf (the .gguf file's own Q4_0/Q4_1/Q5_0/Q8_0/Q4_K/Q6_K blocks: same weights as f32, fastest batch-1); bf16-compute (bf16 weights and activations, f32 sums, AVX512-BF16: fastest for many rows, not bit-exact); llama-cpp (a Llama-family .gguf computed bit for bit as llama.cpp's x86-64 CPU backend does: the same greedy text as llama.cpp).") var precision: GenerationWeightPrecision = .float32
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Print one JSON object: prompt_ids, ids, text, finish_reason, tokens_per_second.") var json = false
    @Option(help: "Answer --prompt about this image (PNG), greedily, through --adapter (a visual run's adapter).") var image: String?
    @OptionGroup(title: "Images (--image)") var imageOptions: ImageOptionGroup

    struct Output: Encodable {
        var promptIds: [Int]; var ids: [Int]; var text: String; var finishReason: String; var tokensPerSecond: Double
        enum CodingKeys: String, CodingKey {
            case promptIds = "prompt_ids", ids, text, finishReason = "finish_reason", tokensPerSecond = "tokens_per_second"
        }
    }

    func validate() throws {
        guard beams >= 1 else { throw ValidationError("--beams must be ≥ 1 (got \(beams))") }
        guard beams == 1 || sampling.temperature == 0 else { throw ValidationError("--beams \(beams) is deterministic; use --temperature 0 with it") }
    }

    func run() throws {
        if let image { return try runWithImage(image) }
        let (loaded, tokenizer) = try loadModelWithTokenizer(model, adapter: adapter, threads: threads, purpose: "generation from text")
        let promptIds = try encodePrompt(tokenizer)
        let eos = Set([tokenizer.eosId, loaded.config.eosTokenId].compactMap { $0 })
        let engine = try GenerationModel(model: loaded.model, precision: precision, gguf: loaded.gguf)
        if precision != .float32 { FileHandle.standardError.write(Data((engine.weightSummary + "\n").utf8)) }
        let decode: ([Int]) -> String = { tokenizer.decode($0, skipSpecial: true) }
        let start = DispatchTime.now().uptimeNanoseconds
        var ids: [Int], text: String, reason: FinishReason
        if beams > 1 {
            let best = try BeamSearch(model: engine, beams: beams).search(prompt: promptIds, maxNewTokens: sampling.maxTokens, eosTokenIds: eos)
            guard let top = best.first else { throw GenerationError.badInput(reason: "beam search finished no hypothesis") }
            ids = top.ids; reason = top.finishReason
            text = decode(reason == .eos ? Array(ids.dropLast()) : ids)
            if !json { print(text) }
        } else {
            let options = sampling.generationOptions(eos: eos, stop: stop)
            var stream = tokenizer.streamDecoder(skipSpecial: true)
            let streaming = !json && stop.isEmpty
            let result = try Generator(model: engine).generate(prompts: [promptIds], options: options, decode: decode) { _, token in
                guard streaming else { return }
                FileHandle.standardOutput.write(Data(stream.append(token).utf8))
            }[0]
            ids = result.ids; text = result.text; reason = result.finishReason
            if streaming { print(stream.finish()) } else if !json { print(text) }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let rate = Double(ids.count) / max(seconds, 1e-9)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let out = Output(promptIds: promptIds, ids: ids, text: text, finishReason: reason.rawValue, tokensPerSecond: rate)
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
        } else {
            FileHandle.standardError.write(Data(String(format: "[%d prompt + %d new tokens, %@, %.1f tokens/s]\n",
                                                       promptIds.count, ids.count, reason.rawValue, rate).utf8))
        }
    }

    /// The prompt ids: the raw text, or the chat template's rendering with the generation prompt.
    func encodePrompt(_ tokenizer: Tokenizer) throws -> [Int] {
        guard chat else {
            guard system == nil else { throw ValidationError("--system needs --chat") }
            return tokenizer.encode(prompt, addBOS: tokenizer.addsBOSByDefault)
        }
        guard let template = tokenizer.chatTemplate else {
            throw ValidationError("--chat: \(model) has no chat template we recognize (ChatML or Llama 3); pass the raw prompt without --chat")
        }
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: prompt))
        return tokenizer.encode(template.render(messages, addGenerationPrompt: true), addBOS: false)
    }
}

extension GenerationWeightPrecision: ExpressibleByArgument {}
extension KVCache.Precision: ExpressibleByArgument {}
