import Foundation
import FuRAFormats
import FuRATensor

/// A model loaded from disk with what came with it.
public struct LoadedModel {
    public var model: CausalLM
    public var config: ModelConfig
    /// The file or directory it came from.
    public var sourcePath: String
    /// Wall time of the load (parse, dequantize, build).
    public var loadSeconds: Double
    /// The tokenizer shipped with the model (GGUF `tokenizer.ggml.*` or `tokenizer.json`), nil when none.
    public var tokenizer: Tokenizer?
    /// The GGUF file when the model came from one (metadata, tensor list).
    public var gguf: GGUFFile?
}

/// Loads Llama-family models from a `.gguf` file or an HF directory.
public enum ModelLoader {
    /// Loads `path`: a `.gguf` file, or a directory with `config.json` and safetensors weights.
    /// - Parameter deferProjections: leave the projection weights in the file until a method reads them
    ///   (`DeferredLinear`): a streaming conversion then holds one f32 weight at a time.
    public static func load(path: String, deferProjections: Bool = false) throws -> LoadedModel {
        let start = DispatchTime.now().uptimeNanoseconds
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError.unreadable(path: path, reason: "no such file or directory; pass a .gguf file or an HF model directory")
        }
        var loaded: LoadedModel
        if isDirectory.boolValue {
            loaded = try loadHFDirectory(path, deferProjections: deferProjections)
        } else {
            let file = try GGUFFile(path: path)
            let config = try GGUFWeightMap.config(of: file)
            let tokenizer = file.metadata["tokenizer.ggml.model"] == nil ? nil : try Tokenizer(ggufMetadata: file.metadata, source: path)
            loaded = LoadedModel(model: try GGUFWeightMap.model(from: file, config: config, deferProjections: deferProjections), config: config, sourcePath: path,
                                 loadSeconds: 0, tokenizer: tokenizer, gguf: file)
        }
        try checkTokenizerFits(loaded)
        loaded.loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return loaded
    }

    /// A tokenizer whose ids run past the embedding table would index rows that do not exist: refused at load, naming
    /// both sizes (a larger embedding than tokenizer is normal, e.g. Qwen pads its table).
    static func checkTokenizerFits(_ loaded: LoadedModel) throws {
        guard let tokenizer = loaded.tokenizer, tokenizer.vocabularySize > loaded.config.vocabSize else { return }
        throw ModelError.unsupported(
            source: loaded.sourcePath, what: "tokenizer",
            reason: "it has token ids up to \(tokenizer.vocabularySize - 1) but the model's vocab_size is \(loaded.config.vocabSize); "
                + "use the tokenizer that came with these weights")
    }
}
