import ArgumentParser
import Foundation
import FuRAFormats
import FuRAModels
import FuRATrain

/// `fura make-model --config CONFIG.json --random --output DIR`: an HF directory with random weights, to check that a
/// size fits before downloading it.
struct MakeModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-model",
        abstract: "Write an HF model directory with random weights for a config.json (sharded safetensors, streamed; a tokenizer).")

    @Option(help: "An HF config.json (e.g. Llama-3-8B's).") var config: String
    @Flag(help: "Random weights: matrices N(0, std²), norms one, biases zero (the only kind for now; required).") var random = false
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Standard deviation of the matrices (HF's initializer_range).") var std: Float = 0.02
    @Option(help: "Tensor type: f32, f16 or bf16.") var dtype = "bf16"
    @Option(help: "The model whose tokenizer to copy (.gguf or HF directory; default the default model, whose ids fit any larger vocabulary); 'none' writes none.")
    var tokenizerFrom = "cache/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "Largest shard in GB (HF's max_shard_size).") var maxShardGb: Double = 5
    @Option(help: "Output directory.") var output: String

    func validate() throws {
        guard random else { throw ValidationError("pass --random: make-model writes random weights (nothing else yet)") }
        guard std.isFinite, std >= 0 else { throw ValidationError("--std must be a finite number ≥ 0 (got \(std))") }
        guard maxShardGb.isFinite, maxShardGb >= 0.001, maxShardGb <= 1000 else { throw ValidationError("--max-shard-gb must be in [0.001, 1000] (got \(maxShardGb))") }
    }

    func run() throws {
        guard let type = ["f32": SafetensorsDtype.f32, "f16": .f16, "bf16": .bf16][dtype] else {
            throw ValidationError("--dtype \(dtype): expected f32, f16 or bf16")
        }
        let modelConfig = try ModelConfig.load(contentsOf: URL(fileURLWithPath: config))
        try RunDirectory.prepare(output)
        let started = Date()
        if tokenizerFrom != "none" {
            try writeTokenizer(fitting: modelConfig)
        }
        try RandomModel.write(config: modelConfig, seed: seed, std: std, dtype: type, to: output,
                              maxShardBytes: Int(maxShardGb * 1e9))
        let parameters = modelConfig.checkpointTensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
        print("wrote \(output): \(parameters) parameters as \(dtype) in " + String(format: "%.1f s", Date().timeIntervalSince(started)))
    }

    /// Copies or builds the tokenizer files, refusing a tokenizer with more ids than the config's vocabulary.
    func writeTokenizer(fitting modelConfig: ModelConfig) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: tokenizerFrom, isDirectory: &isDirectory) else {
            throw ValidationError("--tokenizer-from \(tokenizerFrom): no such file or directory (run scripts/setup.sh for the default model, or pass --tokenizer-from none)")
        }
        let gguf = isDirectory.boolValue ? nil : try GGUFFile(path: tokenizerFrom)
        let tokenizer = try gguf.map { try Tokenizer(ggufMetadata: $0.metadata, source: tokenizerFrom) } ?? Tokenizer.load(model: tokenizerFrom)
        guard tokenizer.vocabularySize <= modelConfig.vocabSize else {
            throw ValidationError("--tokenizer-from \(tokenizerFrom) has \(tokenizer.vocabularySize) tokens, more than vocab_size \(modelConfig.vocabSize)")
        }
        try MergedModel.writeTokenizerFiles(sourcePath: tokenizerFrom, gguf: gguf, to: output)
    }
}
