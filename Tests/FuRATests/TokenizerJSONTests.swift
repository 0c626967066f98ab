import Foundation
import Testing
import FuRAFormats

/// The JSON reader used for large tokenizer.json files.
@Suite struct TokenizerJSONTests {
    @Test func parsesEveryValueKindAndEscape() throws {
        let text = #" {"a": [1, -2.5e3, true, false, null], "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00x", "e": {}, "l": [], "k": 12345678901234567890} "#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value["a"] == .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]))
        #expect(value["s"]?.string == "q\"\\/\u{8}\u{c}\n\r\té😀x")
        #expect(value["e"] == .object([]) && value["l"] == .array([]))
        #expect(value["k"]?.int == nil && value["a"]?.array?.first?.int == 1)
        // Same strings as Foundation's parser on a tokenizer-like object.
        let vocab = ["Ġthe": 1, "Ċ": 2, "é": 3, "\"": 4, "\\": 5, "<|im_start|>": 6]
        let data = try JSONSerialization.data(withJSONObject: ["vocab": vocab])
        let parsed = try #require(try JSONValue.parse(Array(data))["vocab"]?.members)
        #expect(Dictionary(uniqueKeysWithValues: parsed.map { ($0.key, $0.value.int ?? -1) }) == vocab)
    }

    @Test func rejectsMalformedInputWithAnOffset() {
        for bad in ["", "{", "[1,", #"{"a" 1}"#, #""abc"#, "tru", "[1] x", #""\q""#, #""\u12""#, "-", String(repeating: "[", count: 200)] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(Array(bad.utf8)) }
        }
    }

    @Test func tokenizerJSONErrorsAreTyped() throws {
        let dir = try FormatFixtures.temporaryDirectory("tok-json")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func load(_ json: String) throws -> Tokenizer {
            try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
            return try Tokenizer(tokenizerJSON: dir + "/tokenizer.json")
        }
        #expect(throws: TokenizerError.self) { try load("{not json") }
        #expect(throws: TokenizerError.missingField(source: dir + "/tokenizer.json", field: "model")) { try load("{}") }
        #expect(throws: TokenizerError.self) { try load(#"{"model": {"type": "Unigram", "vocab": []}}"#) }
        #expect(throws: TokenizerError.self) { try load(#"{"model": {"type": "BPE", "vocab": {"a": -1}}, "pre_tokenizer": {"type": "ByteLevel"}}"#) }
        #expect(throws: TokenizerError.self) { try load(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}, "pre_tokenizer": {"type": "ByteLevel"}}"#) }
        #expect(throws: TokenizerError.self) { try load(#"{"model": {"type": "BPE", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Metaspace"}}"#) }
        let ok = try load(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}, "pre_tokenizer": {"type": "ByteLevel"}}"#)
        #expect(ok.encode("abab") == [2, 2] && ok.id(for: "ab") == 2)
    }

    @Test func byteFallbackTokensEncodeAndDecodeMissingBytes() throws {
        // A vocabulary with ASCII byte-level tokens only, plus <0xC3> and <0xA9> for the bytes of "é".
        var tokens = (33...126).map { String(UnicodeScalar(UInt8($0))) }
        tokens += ["<0xC3>", "<0xA9>", "ab"]
        let tokenizer = try Tokenizer(ggufMetadata: [
            "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": .array(tokens.map { .string($0) }),
            "tokenizer.ggml.merges": .array([.string("a b")]),
        ])
        let ids = tokenizer.encode("abé")
        #expect(ids == [tokens.count - 1, tokens.count - 3, tokens.count - 2])
        #expect(tokenizer.decode(ids) == "abé")
        #expect(tokenizer.decode([tokens.firstIndex(of: "<")!, tokens.firstIndex(of: "0")!]) == "<0")
    }

    @Test func modelDirectoryReadsTokenizerConfig() throws {
        let fixture = try FormatFixtures.json("tokenizer_tiny_gpt2.json")
        let templates = try #require(try FormatFixtures.json("chat_templates.json")["templates"] as? [String: String])
        let dir = try FormatFixtures.temporaryDirectory("tok-dir")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try JSONSerialization.data(withJSONObject: try #require(fixture["tokenizer"])).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        let config: [String: Any] = ["bos_token": "<|im_start|>", "eos_token": ["content": "<|im_end|>", "lstrip": false],
                                     "pad_token": "<|endoftext|>", "add_bos_token": true, "chat_template": templates["smollm2"] ?? ""]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/tokenizer_config.json"))
        let tokenizer = try Tokenizer.load(model: dir)
        #expect(tokenizer.bosId == tokenizer.id(for: "<|im_start|>") && tokenizer.bosId != nil)
        #expect(tokenizer.eosId == tokenizer.id(for: "<|im_end|>") && tokenizer.eosId != nil)
        #expect(tokenizer.padId == tokenizer.id(for: "<|endoftext|>") && tokenizer.padId != nil)
        #expect(tokenizer.addsBOSByDefault)
        #expect(tokenizer.chatTemplate?.defaultSystemMessage == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        #expect(tokenizer.specialTokenIds.count == 3)
        #expect(throws: FileError.self) { try Tokenizer.load(model: dir + "/missing") }
    }
}
