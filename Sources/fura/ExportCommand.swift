import ArgumentParser
import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor
import FuRATrain

/// `fura export`: writes a model (optionally with an adapter folded in) as a llama.cpp GGUF file.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a model (optionally with an adapter folded in) as a GGUF file for llama.cpp.")

    @Option(help: "The base model: a .gguf file or an HF model directory.") var model: String
    @Option(help: "Adapter directory to fold in.") var adapter: String?
    @Option(help: "Output .gguf path.") var gguf: String
    @Option(help: "Matrix type: f32, f16, q8_0, q4_0 or q4_K (4-bit: the embedding and output stay q8_0; q4_K rows that are not a multiple of 256 are q4_0).") var type = "f16"
    @Option(help: "Threads for BLAS (default: all cores).") var threads: Int?

    func run() throws {
        if let threads { Threading.setThreadCount(threads) }
        guard let ggmlType = GGUFExport.matrixTypes.first(where: { "\($0)".lowercased() == type.lowercased() }) else {
            throw ValidationError("--type \(type): expected one of \(GGUFExport.matrixTypes.map { "\($0)" }.joined(separator: ", "))")
        }
        let loaded = try ModelLoader.load(path: model)
        if let adapter { try applyAdapter(adapter, to: loaded) }
        var tokenizer: [String: GGUFValue]?
        if let file = loaded.gguf {
            tokenizer = GGUFExport.tokenizerMetadata(of: file)
        } else if let t = loaded.tokenizer {
            tokenizer = try GGUFExport.tokenizerMetadata(tokenizerJSON: URL(fileURLWithPath: model).appendingPathComponent("tokenizer.json").path, tokenizer: t)
        }
        let name = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        try GGUFExport.write(loaded.model, tokenizer: tokenizer, name: name, type: ggmlType, to: gguf)
        print("wrote \(gguf) (\(type))")
    }
}
