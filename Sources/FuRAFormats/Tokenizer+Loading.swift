import Foundation

extension Tokenizer {
    /// A tokenizer from GGUF metadata (`tokenizer.ggml.*`; model `gpt2` = byte-level BPE, `llama` =
    /// SentencePiece-style BPE as Gemma uses it, see `SentencePieceBPE`).
    ///
    /// Control (type 3) and user-defined (type 4) tokens are matched verbatim before BPE; control tokens are
    /// special. In a SentencePiece vocabulary, user-defined runs of spaces are ordinary pieces (spelled `▁`).
    public convenience init(ggufMetadata metadata: [String: GGUFValue], source: String = "GGUF metadata") throws {
        guard let model = metadata["tokenizer.ggml.model"]?.asString else {
            throw TokenizerError.missingField(source: source, field: "tokenizer.ggml.model")
        }
        guard model == "gpt2" || model == "llama" else { throw TokenizerError.unsupportedModel(source: source, model: model) }
        let sentencePieceModel = model == "llama"
        guard let tokens = metadata["tokenizer.ggml.tokens"]?.asStringArray else {
            throw TokenizerError.missingField(source: source, field: "tokenizer.ggml.tokens")
        }
        let mergeStrings = metadata["tokenizer.ggml.merges"]?.asStringArray ?? []
        if let bad = mergeStrings.first(where: { !Self.isMergeLine($0) }) {
            throw TokenizerError.invalidField(source: source, field: "tokenizer.ggml.merges", reason: "entry '\(bad)' is not two tokens separated by a space")
        }
        let types = metadata["tokenizer.ggml.token_type"]?.asIntArray ?? []
        guard types.isEmpty || types.count == tokens.count else {
            throw TokenizerError.invalidField(source: source, field: "tokenizer.ggml.token_type", reason: "\(types.count) entries for \(tokens.count) tokens")
        }
        var added = Set<Int>(), special = Set<Int>()
        for (id, type) in types.enumerated() where type == 3 || type == 4 {
            if sentencePieceModel && type == 4 && SentencePieceBPE.respell(tokens[id]) != tokens[id] { continue }
            added.insert(id)
            if type == 3 { special.insert(id) }
        }
        let preName = sentencePieceModel ? "default" : metadata["tokenizer.ggml.pre"]?.asString ?? "default"
        guard let pre = PreTokenizer(ggmlPre: preName) else { throw TokenizerError.unsupportedPreTokenizer(source: source, name: preName) }
        func id(_ key: String) -> Int? { metadata["tokenizer.ggml.\(key)"]?.asInt }
        try self.init(tokens: tokens, merges: .lines(mergeStrings), addedTokenIds: added, specialTokenIds: special, preTokenizer: pre,
                      bosId: id("bos_token_id"), eosId: id("eos_token_id"), padId: id("padding_token_id"), unknownId: id("unknown_token_id"),
                      addsBOSByDefault: metadata["tokenizer.ggml.add_bos_token"]?.asBool ?? false,
                      ignoreMerges: pre == .llama3,
                      sentencePiece: sentencePieceModel ? SentencePieceBPE(tokens: tokens, unknownId: id("unknown_token_id"),
                                                                           addSpacePrefix: metadata["tokenizer.ggml.add_space_prefix"]?.asBool ?? false) : nil,
                      source: source)
        let bosText = bosId.flatMap { token(for: $0) }
        chatTemplate = ChatTemplate.detect(templateString: metadata["tokenizer.chat_template"]?.asString, bosToken: bosText,
                                           eosToken: eosId.flatMap { token(for: $0) })
    }

    /// A tokenizer from a Hugging Face `tokenizer.json` (BPE with a byte-level pre-tokenizer), plus
    /// `tokenizer_config.json` for BOS/EOS/PAD and the chat template.
    public convenience init(tokenizerJSON path: String, tokenizerConfig configPath: String? = nil) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError.cannotOpen(path: path, reason: "no such file or not readable")
        }
        let root: JSONValue
        do {
            root = try JSONValue.parse(Array(data))
        } catch {
            throw TokenizerError.invalidField(source: path, field: "(root)", reason: "\(error)")
        }
        guard let model = root["model"], model.members != nil else { throw TokenizerError.missingField(source: path, field: "model") }
        let type = model["type"]?.string ?? "BPE"
        guard type == "BPE" else { throw TokenizerError.unsupportedModel(source: path, model: type) }
        guard let vocab = model["vocab"]?.members else { throw TokenizerError.missingField(source: path, field: "model.vocab") }
        var ids: [Int] = []
        ids.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = value.int, id >= 0, id < 10_000_000 else {
                throw TokenizerError.invalidField(source: path, field: "model.vocab", reason: "token '\(token)' has id \(value), expected a non-negative integer")
            }
            ids.append(id)
        }
        var addedEntries: [(id: Int, content: String)] = []
        var added = Set<Int>(), special = Set<Int>()
        for entry in root["added_tokens"]?.array ?? [] {
            guard let id = entry["id"]?.int, id >= 0, id < 10_000_000, let content = entry["content"]?.string else {
                throw TokenizerError.invalidField(source: path, field: "added_tokens", reason: "an entry lacks an integer 'id' or a string 'content'")
            }
            addedEntries.append((id, content))
            added.insert(id)
            if entry["special"]?.bool ?? false { special.insert(id) }
        }
        let size = max(ids.max() ?? -1, addedEntries.map(\.id).max() ?? -1) + 1
        var tokens = [String](repeating: "", count: size)
        for (k, member) in vocab.enumerated() { tokens[ids[k]] = member.key }
        for (id, content) in addedEntries { tokens[id] = content }
        var lines: [String] = [], pairs: [([UInt8], [UInt8])] = []
        for m in model["merges"]?.array ?? [] {
            if let s = m.string, Self.isMergeLine(s) {
                lines.append(s)
            } else if let pair = m.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string {
                pairs.append((Array(a.utf8), Array(b.utf8)))
            } else {
                throw TokenizerError.invalidField(source: path, field: "model.merges", reason: "entry \(m) is neither 'a b' nor [a, b]")
            }
        }
        guard lines.isEmpty || pairs.isEmpty else {
            throw TokenizerError.invalidField(source: path, field: "model.merges", reason: "mixes 'a b' strings and [a, b] pairs")
        }
        // SentencePiece shape (Gemma): spaces replaced by ▁ in the normalizer, byte fallback, no byte-level alphabet.
        let normalizer = root["normalizer"].map { "\($0)" } ?? ""
        let sentencePieceShape = model["byte_fallback"]?.bool == true && normalizer.contains("Replace") && normalizer.contains("\u{2581}")
        let pre = sentencePieceShape ? .gpt2 : try Self.detectPreTokenizer(root["pre_tokenizer"], source: path)

        var config: [String: Any] = [:]
        if let configPath { config = try Self.readJSONObject(configPath) }
        func tokenText(_ key: String) -> String? {
            if let s = config[key] as? String { return s }
            return (config[key] as? [String: Any])?["content"] as? String
        }
        func lookup(_ text: String?) -> Int? {
            guard let text else { return nil }
            return tokens.firstIndex(of: text)
        }
        let bos = lookup(tokenText("bos_token")), eos = lookup(tokenText("eos_token")), pad = lookup(tokenText("pad_token"))
        let unk = lookup(model["unk_token"]?.string)
        var addBOS = config["add_bos_token"] as? Bool ?? false
        if config["add_bos_token"] == nil, let bosText = tokenText("bos_token"), let post = root["post_processor"],
           "\(post)".contains(bosText) {
            addBOS = true
        }
        var sentencePiece: SentencePieceBPE?
        if sentencePieceShape {
            let rules = lines.map { line -> (String, String) in
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "")
            } + pairs.map { (String(decoding: $0.0, as: UTF8.self), String(decoding: $0.1, as: UTF8.self)) }
            sentencePiece = SentencePieceBPE(tokens: tokens, unknownId: unk, addSpacePrefix: normalizer.contains("Prepend"), merges: rules)
        }
        try self.init(tokens: tokens, merges: sentencePieceShape ? .lines([]) : pairs.isEmpty ? .lines(lines) : .pairs(pairs), addedTokenIds: added,
                      specialTokenIds: special, preTokenizer: pre, bosId: bos, eosId: eos, padId: pad, unknownId: unk, addsBOSByDefault: addBOS,
                      ignoreMerges: model["ignore_merges"]?.bool ?? false, sentencePiece: sentencePiece, source: path)
        let template = ChatTemplate.templateString(directory: (path as NSString).deletingLastPathComponent, tokenizerConfig: config)
        chatTemplate = ChatTemplate.detect(templateString: template, bosToken: tokenText("bos_token"), eosToken: tokenText("eos_token"))
    }

    /// Whether `line` is "a b": two non-empty tokens around its first space.
    static func isMergeLine(_ line: String) -> Bool {
        guard let space = line.utf8.firstIndex(of: 0x20) else { return false }
        return space > line.utf8.startIndex && line.utf8.index(after: space) < line.utf8.endIndex
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
            throw TokenizerError.invalidField(source: path, field: "(root)", reason: "not valid JSON: \(ErrorText.json(error))")
        }
    }

    /// Recognizes the pre-tokenizer of a tokenizer.json from its components and Split regexes.
    static func detectPreTokenizer(_ object: JSONValue?, source: String) throws -> PreTokenizer {
        var types: [String] = [], regexes: [String] = [], individualDigits = false
        func walk(_ o: JSONValue) {
            switch o {
            case let .object(members):
                for (key, value) in members {
                    if key == "type", let t = value.string { types.append(t) }
                    if key == "pattern", let r = value["Regex"]?.string { regexes.append(r) }
                    if key == "individual_digits", value.bool == true { individualDigits = true }
                    walk(value)
                }
            case let .array(values): values.forEach(walk)
            default: break
            }
        }
        if let object { walk(object) }
        if regexes.contains(where: { $0.contains("\\p{N}{1,3}") }) { return .llama3 }
        if regexes.contains(where: { $0.contains("(?i:'s") && $0.contains("\\p{N}|") }) { return .qwen2 }
        if types.contains("Digits") && individualDigits && types.contains("ByteLevel") { return .smollm }
        if types.contains("ByteLevel") && regexes.isEmpty && !types.contains("Digits") { return .gpt2 }
        throw TokenizerError.unsupportedPreTokenizer(source: source, name: (types + regexes).joined(separator: " "))
    }
}

extension Tokenizer {
    /// The tokenizer of a model: a `.gguf` file (its metadata), a `tokenizer.json` file, or a Hugging Face
    /// directory holding `tokenizer.json` (and optionally `tokenizer_config.json`).
    public static func load(model path: String) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError.cannotOpen(path: path, reason: "no such file or directory (expected a .gguf file or a directory with tokenizer.json)")
        }
        if isDirectory.boolValue {
            let json = path + "/tokenizer.json", config = path + "/tokenizer_config.json"
            guard FileManager.default.fileExists(atPath: json) else {
                throw FileError.cannotOpen(path: json, reason: "the model directory has no tokenizer.json")
            }
            return try Tokenizer(tokenizerJSON: json, tokenizerConfig: FileManager.default.fileExists(atPath: config) ? config : nil)
        }
        if path.hasSuffix(".json") {
            let config = (path as NSString).deletingLastPathComponent + "/tokenizer_config.json"
            return try Tokenizer(tokenizerJSON: path, tokenizerConfig: FileManager.default.fileExists(atPath: config) ? config : nil)
        }
        return try Tokenizer(ggufMetadata: GGUFFile(path: path).metadata, source: path)
    }
}
