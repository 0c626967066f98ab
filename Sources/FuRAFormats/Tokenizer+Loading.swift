import Foundation

extension Tokenizer {
    /// A tokenizer from GGUF metadata (`tokenizer.ggml.*`; model `gpt2` = byte-level BPE).
    ///
    /// Control (type 3) and user-defined (type 4) tokens are matched verbatim before BPE; control tokens are special.
    public convenience init(ggufMetadata metadata: [String: GGUFValue], source: String = "GGUF metadata") throws {
        guard let model = metadata["tokenizer.ggml.model"]?.asString else {
            throw TokenizerError.missingField(source: source, field: "tokenizer.ggml.model")
        }
        guard model == "gpt2" else { throw TokenizerError.unsupportedModel(source: source, model: model) }
        guard let tokens = metadata["tokenizer.ggml.tokens"]?.asStringArray else {
            throw TokenizerError.missingField(source: source, field: "tokenizer.ggml.tokens")
        }
        let mergeStrings = metadata["tokenizer.ggml.merges"]?.asStringArray ?? []
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeStrings.count)
        for m in mergeStrings {
            guard let space = m.firstIndex(of: " ") else {
                throw TokenizerError.invalidField(source: source, field: "tokenizer.ggml.merges", reason: "entry '\(m)' is not two tokens separated by a space")
            }
            merges.append((String(m[..<space]), String(m[m.index(after: space)...])))
        }
        let types = metadata["tokenizer.ggml.token_type"]?.asIntArray ?? []
        guard types.isEmpty || types.count == tokens.count else {
            throw TokenizerError.invalidField(source: source, field: "tokenizer.ggml.token_type", reason: "\(types.count) entries for \(tokens.count) tokens")
        }
        var added = Set<Int>(), special = Set<Int>()
        for (id, type) in types.enumerated() where type == 3 || type == 4 {
            added.insert(id)
            if type == 3 { special.insert(id) }
        }
        let preName = metadata["tokenizer.ggml.pre"]?.asString ?? "default"
        guard let pre = PreTokenizer(ggmlPre: preName) else { throw TokenizerError.unsupportedPreTokenizer(source: source, name: preName) }
        func id(_ key: String) -> Int? { metadata["tokenizer.ggml.\(key)"]?.asInt }
        try self.init(tokens: tokens, merges: merges, addedTokenIds: added, specialTokenIds: special, preTokenizer: pre,
                      bosId: id("bos_token_id"), eosId: id("eos_token_id"), padId: id("padding_token_id"), unknownId: id("unknown_token_id"),
                      addsBOSByDefault: metadata["tokenizer.ggml.add_bos_token"]?.asBool ?? false,
                      ignoreMerges: pre == .llama3, source: source)
        let bosText = bosId.flatMap { token(for: $0) }
        chatTemplate = ChatTemplate.detect(templateString: metadata["tokenizer.chat_template"]?.asString, bosToken: bosText,
                                           eosToken: eosId.flatMap { token(for: $0) })
    }

    /// A tokenizer from a Hugging Face `tokenizer.json` (BPE with a byte-level pre-tokenizer), plus
    /// `tokenizer_config.json` for BOS/EOS/PAD and the chat template.
    public convenience init(tokenizerJSON path: String, tokenizerConfig configPath: String? = nil) throws {
        let root = try Self.readJSONObject(path)
        guard let model = root["model"] as? [String: Any] else { throw TokenizerError.missingField(source: path, field: "model") }
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else { throw TokenizerError.unsupportedModel(source: path, model: type) }
        guard let vocab = model["vocab"] as? [String: Any] else { throw TokenizerError.missingField(source: path, field: "model.vocab") }
        var byId: [Int: String] = [:]
        byId.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0, id < 10_000_000 else {
                throw TokenizerError.invalidField(source: path, field: "model.vocab", reason: "token '\(token)' has id \(value), expected a non-negative integer")
            }
            byId[id] = token
        }
        var added = Set<Int>(), special = Set<Int>()
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = (entry["id"] as? NSNumber)?.intValue, id >= 0, id < 10_000_000, let content = entry["content"] as? String else {
                throw TokenizerError.invalidField(source: path, field: "added_tokens", reason: "an entry lacks an integer 'id' or a string 'content'")
            }
            byId[id] = content
            added.insert(id)
            if entry["special"] as? Bool ?? false { special.insert(id) }
        }
        let size = (byId.keys.max() ?? -1) + 1
        var tokens = [String](repeating: "", count: size)
        for (id, token) in byId { tokens[id] = token }
        var merges: [(String, String)] = []
        for m in model["merges"] as? [Any] ?? [] {
            if let s = m as? String, let space = s.firstIndex(of: " ") {
                merges.append((String(s[..<space]), String(s[s.index(after: space)...])))
            } else if let pair = m as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw TokenizerError.invalidField(source: path, field: "model.merges", reason: "entry \(m) is neither 'a b' nor [a, b]")
            }
        }
        let pre = try Self.detectPreTokenizer(root["pre_tokenizer"], source: path)

        var config: [String: Any] = [:]
        if let configPath { config = try Self.readJSONObject(configPath) }
        func tokenText(_ key: String) -> String? {
            if let s = config[key] as? String { return s }
            return (config[key] as? [String: Any])?["content"] as? String
        }
        var lookup: [String: Int] = [:]
        for (id, token) in tokens.enumerated() { lookup[token] = id }
        let bos = tokenText("bos_token").flatMap { lookup[$0] }
        let eos = tokenText("eos_token").flatMap { lookup[$0] }
        let pad = tokenText("pad_token").flatMap { lookup[$0] }
        let unk = (model["unk_token"] as? String).flatMap { lookup[$0] }
        var addBOS = config["add_bos_token"] as? Bool ?? false
        if config["add_bos_token"] == nil, let bosText = tokenText("bos_token"),
           let post = root["post_processor"] as? [String: Any], "\(post)".contains(bosText) {
            addBOS = true
        }
        try self.init(tokens: tokens, merges: merges, addedTokenIds: added, specialTokenIds: special, preTokenizer: pre,
                      bosId: bos, eosId: eos, padId: pad, unknownId: unk, addsBOSByDefault: addBOS,
                      ignoreMerges: model["ignore_merges"] as? Bool ?? false, source: path)
        var template = config["chat_template"] as? String
        if template == nil, let named = config["chat_template"] as? [[String: Any]] {
            template = named.first { $0["name"] as? String == "default" }?["template"] as? String
        }
        chatTemplate = ChatTemplate.detect(templateString: template, bosToken: tokenText("bos_token"), eosToken: tokenText("eos_token"))
    }

    static func readJSONObject(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError.cannotOpen(path: path, reason: "no such file or not readable")
        }
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError.invalidField(source: path, field: "(root)", reason: "the file is not a JSON object")
            }
            return object
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.invalidField(source: path, field: "(root)", reason: "not valid JSON: \(error.localizedDescription)")
        }
    }

    /// Recognizes the pre-tokenizer of a tokenizer.json from its components and Split regexes.
    static func detectPreTokenizer(_ object: Any?, source: String) throws -> PreTokenizer {
        var types: [String] = [], regexes: [String] = [], individualDigits = false
        func walk(_ o: Any?) {
            if let d = o as? [String: Any] {
                if let t = d["type"] as? String { types.append(t) }
                if let p = d["pattern"] as? [String: Any], let r = p["Regex"] as? String { regexes.append(r) }
                if d["individual_digits"] as? Bool == true { individualDigits = true }
                for v in d.values { walk(v) }
            } else if let a = o as? [Any] {
                for v in a { walk(v) }
            }
        }
        walk(object)
        if regexes.contains(where: { $0.contains("\\p{N}{1,3}") }) { return .llama3 }
        if regexes.contains(where: { $0.contains("(?i:'s") && $0.contains("\\p{N}|") }) { return .qwen2 }
        if types.contains("Digits") && individualDigits && types.contains("ByteLevel") { return .smollm }
        if types.contains("ByteLevel") && regexes.isEmpty && !types.contains("Digits") { return .gpt2 }
        throw TokenizerError.unsupportedPreTokenizer(source: source, name: (types + regexes).joined(separator: " "))
    }
}
