import ArgumentParser
import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor
import FuRATrain

/// `fura merge`: folds an adapter into its base model and writes a dense Hugging Face directory.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold an adapter into the base model and write a dense HF directory (config.json, safetensors, tokenizer).")

    @Option(help: "The base model: a .gguf file or an HF model directory.") var model: String
    @Option(help: "Adapter directory (adapter_config.json + adapter_model.safetensors).") var adapter: String
    @Option(help: "Output directory.") var output: String
    @Option(help: "Tensor type of the written weights: f32, f16 or bf16.") var dtype = "f32"
    @Option(help: "Threads for BLAS (default: all cores).") var threads: Int?

    func run() throws {
        if let threads { Threading.setThreadCount(threads) }
        guard let type = ["f32": SafetensorsDtype.f32, "f16": .f16, "bf16": .bf16][dtype] else {
            throw ValidationError("--dtype \(dtype): expected f32, f16 or bf16")
        }
        let loaded = try ModelLoader.load(path: model)
        try applyAdapter(adapter, to: loaded)
        try MergedModel.write(loaded, to: output, dtype: type)
        print("merged \(adapter) into \(model) → \(output)")
    }
}
