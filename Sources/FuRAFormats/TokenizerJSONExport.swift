import Foundation

/// Builds Hugging Face `tokenizer.json` and `tokenizer_config.json` from a GGUF's `tokenizer.ggml.*` metadata,
/// in the form `Tokenizer(tokenizerJSON:tokenizerConfig:)` reads back (BPE, byte-level, same pre-tokenizer).
public enum TokenizerJSONExport {
    static let llama3Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
    static let qwen2Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

    /// (`tokenizer.json`, `tokenizer_config.json`) bytes.
    public static func files(ggufMetadata metadata: [String: GGUFValue], source: String) throws -> (Data, Data) {
        if metadata["tokenizer.ggml.model"]?.asString == "llama" { return try sentencePieceFiles(ggufMetadata: metadata, source: source) }
        guard metadata["tokenizer.ggml.model"]?.asString == "gpt2" else {
            throw TokenizerError.unsupportedModel(source: source, model: metadata["tokenizer.ggml.model"]?.asString ?? "(none)")
        }
        guard let tokens = metadata["tokenizer.ggml.tokens"]?.asStringArray else {
            throw TokenizerError.missingField(source: source, field: "tokenizer.ggml.tokens")
        }
        let merges = metadata["tokenizer.ggml.merges"]?.asStringArray ?? []
        let types = metadata["tokenizer.ggml.token_type"]?.asIntArray ?? []
        let preName = metadata["tokenizer.ggml.pre"]?.asString ?? "default"
        guard let pre = PreTokenizer(ggmlPre: preName) else { throw TokenizerError.unsupportedPreTokenizer(source: source, name: preName) }
        var vocab = [String: Int]()
        for (id, token) in tokens.enumerated() where vocab[token] == nil { vocab[token] = id }
        var added = [[String: Any]]()
        for (id, type) in types.enumerated() where type == 3 || type == 4 {
            added.append(["id": id, "content": tokens[id], "special": type == 3, "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": type != 3])
        }
        func byteLevel(_ regex: Bool) -> [String: Any] {
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": regex]
        }
        func split(_ pattern: String) -> [String: Any] {
            ["type": "Split", "pattern": ["Regex": pattern], "behavior": "Isolated", "invert": false]
        }
        let preTokenizer: [String: Any]
        switch pre {
        case .gpt2: preTokenizer = byteLevel(true)
        case .smollm: preTokenizer = ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel(true)]]
        case .llama3: preTokenizer = ["type": "Sequence", "pretokenizers": [split(llama3Regex), byteLevel(false)]]
        case .qwen2: preTokenizer = ["type": "Sequence", "pretokenizers": [split(qwen2Regex), byteLevel(false)]]
        }
        let tokenizer: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added, "normalizer": NSNull(),
            "pre_tokenizer": preTokenizer, "post_processor": byteLevel(true),
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": pre == .llama3,
                      "vocab": vocab, "merges": merges] as [String: Any],
        ]
        func text(_ key: String) -> Any {
            guard let id = metadata["tokenizer.ggml.\(key)"]?.asInt, id >= 0, id < tokens.count else { return NSNull() }
            return tokens[id]
        }
        var config: [String: Any] = [
            "bos_token": text("bos_token_id"), "eos_token": text("eos_token_id"), "pad_token": text("padding_token_id"),
            "unk_token": text("unknown_token_id"), "add_bos_token": metadata["tokenizer.ggml.add_bos_token"]?.asBool ?? false,
            "add_eos_token": false, "model_max_length": 1_000_000_000, "tokenizer_class": "GPT2Tokenizer", "clean_up_tokenization_spaces": false,
        ]
        if let template = metadata["tokenizer.chat_template"]?.asString { config["chat_template"] = template }
        let options: JSONSerialization.WritingOptions = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try JSONSerialization.data(withJSONObject: tokenizer, options: options), try JSONSerialization.data(withJSONObject: config, options: options))
    }
}
