import Foundation
import Testing
import FuRAFormats
import FuRATrain
import FuRATensor

@Suite struct TokenizerTests {
    static func cases(_ fixture: [String: Any]) throws -> [(text: String, ids: [Int])] {
        let list = try #require(fixture["cases"] as? [[String: Any]])
        return try list.map { (try #require($0["text"] as? String), try #require($0["ids"] as? [Int])) }
    }

    static func tinyTokenizer(_ name: String) throws -> (Tokenizer, [(text: String, ids: [Int])]) {
        let fixture = try FormatFixtures.json("tokenizer_tiny_\(name).json")
        let dir = try FormatFixtures.temporaryDirectory("tok-\(name)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tokenizer.json"
        try JSONSerialization.data(withJSONObject: try #require(fixture["tokenizer"])).write(to: URL(fileURLWithPath: path))
        return (try Tokenizer(tokenizerJSON: path), try cases(fixture))
    }

    static let smolLM2: Tokenizer? = {
        guard FormatFixtures.hasSmolLM2, let file = try? GGUFFile(path: FormatFixtures.smolLM2Path) else { return nil }
        return try? Tokenizer(ggufMetadata: file.metadata)
    }()

    @Test(.enabled(if: FormatFixtures.hasSmolLM2)) func smolLM2MatchesHuggingFaceOnTheCorpus() throws {
        let tokenizer = try #require(Self.smolLM2)
        #expect(tokenizer.preTokenizer == .smollm)
        #expect(tokenizer.vocabularySize == 49152 && tokenizer.bosId == 1 && tokenizer.eosId == 2 && tokenizer.padId == 2)
        let cases = try Self.cases(try FormatFixtures.json("tokenizer_smollm2.json"))
        #expect(cases.count >= 20)
        for (text, ids) in cases {
            #expect(tokenizer.encode(text) == ids, "\(text.debugDescription)")
            #expect(tokenizer.decode(ids) == text)
        }
        #expect(tokenizer.encode("<|im_start|>user", addBOS: true).prefix(2) == [1, 1])
        #expect(tokenizer.decode(tokenizer.encode("<|im_start|>hi<|im_end|>"), skipSpecial: true) == "hi")
    }

    @Test(arguments: ["gpt2", "llama3", "qwen2"]) func tinyTokenizerJSONMatchesHuggingFace(name: String) throws {
        let (tokenizer, cases) = try Self.tinyTokenizer(name)
        #expect(tokenizer.preTokenizer == PreTokenizer(rawValue: name))
        for (text, ids) in cases {
            #expect(tokenizer.encode(text) == ids, "\(name): \(text.debugDescription)")
            #expect(tokenizer.decode(ids) == text)
        }
    }

    @Test func preTokenizerSplitsLikeTheRegexes() {
        func words(_ p: PreTokenizer, _ text: String) -> [String] {
            let scalars = Array(text.unicodeScalars)
            return p.split(scalars).map { r in var v = String.UnicodeScalarView(); v.append(contentsOf: scalars[r]); return String(v) }
        }
        #expect(words(.gpt2, "Hello world's  end\n\nok 42x") == ["Hello", " world", "'s", " ", " end", "\n", "\n", "ok", " 42", "x"])
        #expect(words(.smollm, "abc123 45") == ["abc", "1", "2", "3", " ", "4", "5"])
        #expect(words(.llama3, "I'M (fine)\n\n  12345 ok!!\n") == ["I", "'M", " (", "fine", ")\n\n", " ", " ", "123", "45", " ok", "!!\n"])
        #expect(words(.qwen2, "x 123") == ["x", " ", "1", "2", "3"])
        #expect(words(.gpt2, "") == [])
    }

    @Test(.enabled(if: FormatFixtures.hasSmolLM2)) func heapMergeMatchesNaiveMerge() throws {
        let tokenizer = try #require(Self.smolLM2)
        var rng = RNG(seed: 9)
        func pick(_ n: Int) -> Int { min(n - 1, Int(rng.uniform() * Float(n))) }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz éüñ漢字🙂-_".unicodeScalars)
        for _ in 0..<300 {
            var word = String.UnicodeScalarView()
            for _ in 0..<(1 + pick(12)) { word.append(alphabet[pick(alphabet.count)]) }
            #expect(tokenizer.encodeWord(String(word)) == tokenizer.encodeWordReference(String(word)), "\(String(word))")
        }
    }

    @Test(.enabled(if: FormatFixtures.hasSmolLM2)) func roundTripsArbitraryText() throws {
        let tokenizer = try #require(Self.smolLM2)
        let texts = ["", "a", "  ", "\u{0}\u{7f}\u{1b}[0m", "日本語 and 😀 <|im_end|>", String(repeating: "ab 12 ", count: 200)]
        for text in texts { #expect(tokenizer.decode(tokenizer.encode(text)) == text) }
    }

    @Test(.enabled(if: FormatFixtures.hasSmolLM2)) func streamingDecoderEmitsCompleteUTF8Only() throws {
        let tokenizer = try #require(Self.smolLM2)
        let text = "Emoji 😀👍🏽 and 漢字 mixed: ü"
        let ids = tokenizer.encode(text)
        var decoder = tokenizer.streamDecoder()
        var pieces: [String] = []
        for id in ids { pieces.append(decoder.append(id)) }
        pieces.append(decoder.finish())
        #expect(pieces.joined() == text)
        #expect(pieces.allSatisfy { !$0.contains("\u{FFFD}") })
        // A lone lead byte is held back until its continuation arrives.
        #expect(StreamingDecoder.completePrefixLength([0x61, 0xF0, 0x9F]) == 1)
        #expect(StreamingDecoder.completePrefixLength([0x61, 0xF0, 0x9F, 0x98, 0x80]) == 5)
        #expect(StreamingDecoder.completePrefixLength([0x61, 0xFF]) == 2)
    }

    @Test func byteLevelMapIsABijection() {
        #expect(Set(ByteLevel.byteToScalar).count == 256)
        for b in 0..<256 { #expect(ByteLevel.decode(String(ByteLevel.byteToScalar[b])) == [UInt8(b)]) }
        #expect(ByteLevel.byteToScalar[32] == "Ġ" && ByteLevel.byteToScalar[10] == "Ċ")
    }

    @Test func missingOrUnsupportedSourcesGiveTypedErrors() throws {
        #expect(throws: FileError.self) { try Tokenizer(tokenizerJSON: "/nonexistent/tokenizer.json") }
        #expect(throws: TokenizerError.missingField(source: "GGUF metadata", field: "tokenizer.ggml.model")) { try Tokenizer(ggufMetadata: [:]) }
        #expect(throws: TokenizerError.self) { try Tokenizer(ggufMetadata: ["tokenizer.ggml.model": .string("llama")]) }
        #expect(throws: TokenizerError.self) {
            try Tokenizer(ggufMetadata: ["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": .array([.string("a")]),
                                         "tokenizer.ggml.pre": .string("made-up")])
        }
        #expect(throws: TokenizerError.self) {
            try Tokenizer(ggufMetadata: ["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": .array([.string("a")]),
                                         "tokenizer.ggml.bos_token_id": .uint32(7)])
        }
    }
}

/// SentencePiece-style BPE (GGUF `llama` vocabularies, Gemma): merge order by the merged token's position,
/// `▁` for spaces, runs of spaces as pieces, byte fallback, and added tokens matched whole.
@Suite struct SentencePieceTokenizerTests {
    static func make() throws -> Tokenizer { try Tokenizer(ggufMetadata: metadata()) }

    static func metadata() -> [String: GGUFValue] {
        var tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<start>", "\n"]
        tokens += (0..<256).map { String(format: "<0x%02X>", $0) }
        // "ab" comes before "bc", so "abc" is "ab" + "c"; "  " (two spaces) is the piece "▁▁".
        tokens += ["\u{2581}", "a", "b", "c", "ab", "bc", "\u{2581}a", "  ", "\u{2581}ab"]
        let types = [3, 3, 3, 2, 3, 4] + [Int](repeating: 6, count: 256) + [Int](repeating: 1, count: 7) + [4, 1]
        let metadata: [String: GGUFValue] = [
            "tokenizer.ggml.model": .string("llama"), "tokenizer.ggml.tokens": .array(tokens.map { .string($0) }),
            "tokenizer.ggml.token_type": .array(types.map { .int32(Int32($0)) }), "tokenizer.ggml.bos_token_id": .uint32(2),
            "tokenizer.ggml.eos_token_id": .uint32(1), "tokenizer.ggml.unknown_token_id": .uint32(3),
            "tokenizer.ggml.add_bos_token": .bool(true),
        ]
        return metadata
    }

    @Test func encodesAndDecodesLikeSentencePiece() throws {
        let t = try Self.make()
        let id = { (s: String) in t.id(for: s)! }
        #expect(t.encode("abc") == [id("ab"), id("c")])
        #expect(t.encode(" ab") == [id("\u{2581}ab")])
        #expect(t.encode("a  b") == [id("a"), id("  "), id("b")])  // "  " is looked up as ▁▁
        #expect(t.encode("a<start>\nz", addBOS: true) == [2, id("a"), 4, 5, id("<0x7A>")])
        #expect(t.decode(t.encode("a  b<start>\nz é"), skipSpecial: true) == "a  b\nz é")
    }

    /// GGUF → tokenizer.json (what `fura merge` writes) → GGUF metadata (what `fura export` writes from an HF
    /// directory): every form encodes alike.
    @Test func tokenizerJSONAndGGUFMetadataRoundTrip() throws {
        let original = try Self.make()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fura-spm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let (json, config) = try TokenizerJSONExport.files(ggufMetadata: Self.metadata(), source: "test")
        let jsonPath = root.appendingPathComponent("tokenizer.json").path
        try json.write(to: URL(fileURLWithPath: jsonPath))
        try config.write(to: root.appendingPathComponent("tokenizer_config.json"))
        let fromJSON = try Tokenizer(tokenizerJSON: jsonPath, tokenizerConfig: root.appendingPathComponent("tokenizer_config.json").path)
        let fromGGUF = try Tokenizer(ggufMetadata: try GGUFExport.tokenizerMetadata(tokenizerJSON: jsonPath, tokenizer: fromJSON))
        for text in ["abc", " ab", "a  b", "a<start>\nz é", "bcab  abc\n\n"] {
            let ids = original.encode(text, addBOS: true)
            #expect(fromJSON.encode(text, addBOS: fromJSON.addsBOSByDefault) == ids, "\(text)")
            #expect(fromGGUF.encode(text, addBOS: fromGGUF.addsBOSByDefault) == ids, "\(text)")
            #expect(fromGGUF.decode(Array(ids.dropFirst())) == text)
        }
    }
}
