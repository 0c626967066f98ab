import Foundation

extension TokenizerJSONExport {
    /// `tokenizer.json` and `tokenizer_config.json` for a GGUF `llama` (SentencePiece) vocabulary, in the shape
    /// of transformers' `GemmaTokenizer`: spaces → `▁` in the normalizer, BPE with byte fallback, and the merges
    /// the vocabulary implies, ranked as transformers ranks them for Gemma GGUF files (merged token's position
    /// in the file first, longer left piece first). Runs of spaces are spelled with `▁`; control tokens are
    /// special added tokens and the other user-defined ones plain added tokens. Reads back through
    /// `Tokenizer(tokenizerJSON:tokenizerConfig:)` (`SentencePieceBPE` with these merges).
    static func sentencePieceFiles(ggufMetadata metadata: [String: GGUFValue], source: String) throws -> (Data, Data) {
        guard let raw = metadata["tokenizer.ggml.tokens"]?.asStringArray else {
            throw TokenizerError.missingField(source: source, field: "tokenizer.ggml.tokens")
        }
        let types = metadata["tokenizer.ggml.token_type"]?.asIntArray ?? []
        let tokens = raw.map(SentencePieceBPE.respell)
        // Keyed by bytes: Swift `String` keys would merge canonically equivalent tokens, which are distinct here.
        var vocab = [ByteKey: Int]()
        for (id, token) in tokens.enumerated() { vocab[ByteKey(token)] = id }
        var added = [[String: Any]]()
        for (id, type) in types.enumerated() where (type == 3 || type == 4) && tokens[id] == raw[id] {
            added.append(["id": id, "content": tokens[id], "special": type == 3, "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false])
        }
        // Every split (l, r) of a token into two tokens is a merge; rank by (token position, −|l|).
        var merges: [(position: Int, leftLength: Int, left: String, right: String)] = []
        for (position, token) in tokens.enumerated() where vocab[ByteKey(token)] == position {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count >= 2 else { continue }
            for cut in 1..<scalars.count {
                var left = "", right = ""
                left.unicodeScalars.append(contentsOf: scalars[..<cut]); right.unicodeScalars.append(contentsOf: scalars[cut...])
                if vocab[ByteKey(left)] != nil && vocab[ByteKey(right)] != nil { merges.append((position, cut, left, right)) }
            }
        }
        merges.sort { ($0.position, -$0.leftLength) < ($1.position, -$1.leftLength) }
        func text(_ key: String) -> Any {
            guard let id = metadata["tokenizer.ggml.\(key)"]?.asInt, id >= 0, id < tokens.count else { return NSNull() }
            return tokens[id]
        }
        let space = ["type": "Replace", "pattern": ["String": " "], "content": "\u{2581}"] as [String: Any]
        let prefix = metadata["tokenizer.ggml.add_space_prefix"]?.asBool ?? false
        let tokenizer: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
            "normalizer": prefix ? ["type": "Sequence", "normalizers": [["type": "Prepend", "prepend": "\u{2581}"], space]] : space,
            "pre_tokenizer": ["type": "Split", "pattern": ["String": " "], "behavior": "MergedWithPrevious", "invert": false],
            "post_processor": bosPrefix(metadata, tokens: tokens),
            "decoder": ["type": "Sequence", "decoders": [["type": "Replace", "pattern": ["String": "\u{2581}"], "content": " "],
                                                         ["type": "ByteFallback"], ["type": "Fuse"]]],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": text("unknown_token_id"), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                      "vocab": "@VOCAB@", "merges": "@MERGES@"] as [String: Any],
        ]
        var config: [String: Any] = [
            "bos_token": text("bos_token_id"), "eos_token": text("eos_token_id"), "pad_token": text("padding_token_id"),
            "unk_token": text("unknown_token_id"), "add_bos_token": metadata["tokenizer.ggml.add_bos_token"]?.asBool ?? false,
            "add_eos_token": false, "model_max_length": 1_000_000_000, "tokenizer_class": "GemmaTokenizer", "clean_up_tokenization_spaces": false,
        ]
        if let template = metadata["tokenizer.chat_template"]?.asString { config["chat_template"] = template }
        let options: JSONSerialization.WritingOptions = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // The vocabulary and merges are written by hand, byte for byte (see `vocab`).
        var vocabText = "{", mergesText = "["
        for (id, token) in tokens.enumerated() where vocab[ByteKey(token)] == id {
            vocabText += (vocabText.utf8.count == 1 ? "" : ",") + jsonString(token) + ":" + String(id)
        }
        for (k, m) in merges.enumerated() { mergesText += (k == 0 ? "[" : ",[") + jsonString(m.left) + "," + jsonString(m.right) + "]" }
        let skeleton = String(decoding: try JSONSerialization.data(withJSONObject: tokenizer, options: options), as: UTF8.self)
        let json = skeleton.replacingOccurrences(of: "\"@VOCAB@\"", with: vocabText + "}", options: .literal)
            .replacingOccurrences(of: "\"@MERGES@\"", with: mergesText + "]", options: .literal)
        return (Data(json.utf8), try JSONSerialization.data(withJSONObject: config, options: options))
    }

    /// A post-processor putting BOS before each sequence when the file asks for it (`add_bos_token`), else null.
    static func bosPrefix(_ metadata: [String: GGUFValue], tokens: [String]) -> Any {
        guard metadata["tokenizer.ggml.add_bos_token"]?.asBool == true, let id = metadata["tokenizer.ggml.bos_token_id"]?.asInt,
              id >= 0, id < tokens.count else { return NSNull() }
        let bos = tokens[id]
        func special(_ typeId: Int) -> [String: Any] { ["SpecialToken": ["id": bos, "type_id": typeId]] }
        func sequence(_ name: String, _ typeId: Int) -> [String: Any] { ["Sequence": ["id": name, "type_id": typeId]] }
        return ["type": "TemplateProcessing", "single": [special(0), sequence("A", 0)],
                "pair": [special(0), sequence("A", 0), special(1), sequence("B", 1)],
                "special_tokens": [bos: ["id": bos, "ids": [id], "tokens": [bos]]]] as [String: Any]
    }

    /// `s` as a JSON string literal, scalars kept as they are (quotes, backslashes and controls escaped).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
