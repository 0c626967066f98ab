import Foundation

/// Errors from loading a tokenizer; each names the source and the field.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingField(source: String, field: String)
    case unsupportedModel(source: String, model: String)
    case unsupportedPreTokenizer(source: String, name: String)
    case invalidField(source: String, field: String, reason: String)

    public var description: String {
        switch self {
        case let .missingField(source, field): return "\(source): the tokenizer field '\(field)' is missing"
        case let .unsupportedModel(source, model):
            return "\(source): tokenizer model '\(model)' is not supported (FuRA reads byte-level BPE: GGUF 'gpt2', tokenizer.json 'BPE' with a ByteLevel pre-tokenizer)"
        case let .unsupportedPreTokenizer(source, name):
            return "\(source): pre-tokenizer '\(name)' is not supported (supported: \(PreTokenizer.allCases.map(\.rawValue).joined(separator: ", ")) and their llama.cpp aliases)"
        case let .invalidField(source, field, reason): return "\(source): tokenizer field '\(field)' is invalid: \(reason)"
        }
    }
}

/// A byte-level BPE tokenizer (GPT-2, SmolLM2, Llama-3, Qwen2 families) with special tokens and chat templates.
public final class Tokenizer: @unchecked Sendable {
    /// Token strings by id (byte-level form for BPE tokens, plain text for added tokens).
    public let tokens: [String]
    /// Ids of the tokens matched verbatim in text before BPE (special and added tokens).
    public let addedTokenIds: Set<Int>
    /// Ids that `decode(skipSpecial: true)` drops.
    public let specialTokenIds: Set<Int>
    public let preTokenizer: PreTokenizer
    public let bosId: Int?
    public let eosId: Int?
    public let padId: Int?
    public let unknownId: Int?
    /// Whether the model's files ask for BOS at the start of every sequence.
    public let addsBOSByDefault: Bool
    /// The chat template recognized from the model files (nil when none is known).
    public var chatTemplate: ChatTemplate?

    let encoder: BytePairEncoder
    let vocabulary: [String: Int]
    /// Added tokens grouped by their first UTF-8 byte, longest first.
    let addedByFirstByte: [UInt8: [(bytes: [UInt8], id: Int)]]

    /// Builds a tokenizer from its parts (ids index `tokens`).
    public init(tokens: [String], merges: [(String, String)], addedTokenIds: Set<Int>, specialTokenIds: Set<Int>,
                preTokenizer: PreTokenizer, bosId: Int?, eosId: Int?, padId: Int?, unknownId: Int?,
                addsBOSByDefault: Bool = false, ignoreMerges: Bool = false, source: String) throws {
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where !addedTokenIds.contains(id) || vocabulary[token] == nil {
            vocabulary[token] = id
        }
        for (field, id) in [("bos", bosId), ("eos", eosId), ("pad", padId), ("unknown", unknownId)] {
            if let id, id < 0 || id >= tokens.count {
                throw TokenizerError.invalidField(source: source, field: "\(field) token id", reason: "\(id) is outside the vocabulary of \(tokens.count)")
            }
        }
        self.tokens = tokens
        self.vocabulary = vocabulary
        self.addedTokenIds = addedTokenIds
        self.specialTokenIds = specialTokenIds
        self.preTokenizer = preTokenizer
        self.bosId = bosId
        self.eosId = eosId
        self.padId = padId
        self.unknownId = unknownId
        self.addsBOSByDefault = addsBOSByDefault
        var groups: [UInt8: [(bytes: [UInt8], id: Int)]] = [:]
        for id in addedTokenIds where id >= 0 && id < tokens.count {
            let bytes = Array(tokens[id].utf8)
            guard let first = bytes.first else { continue }
            groups[first, default: []].append((bytes, id))
        }
        addedByFirstByte = groups.mapValues { $0.sorted { $0.bytes.count > $1.bytes.count } }
        encoder = BytePairEncoder(vocabulary: vocabulary, merges: merges, ignoreMerges: ignoreMerges, unknownId: unknownId)
    }

    /// The number of token ids.
    public var vocabularySize: Int { tokens.count }

    /// The string of token `id` (byte-level form), or nil when out of range.
    public func token(for id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    /// The id of a token string (byte-level form, or an added token's text).
    public func id(for token: String) -> Int? {
        if let id = vocabulary[token] { return id }
        return addedTokenIds.first { tokens[$0] == token }
    }

    /// Token ids of `text`: added/special tokens are matched first (leftmost, longest), the rest is
    /// pre-tokenized and byte-pair encoded.
    public func encode(_ text: String, addBOS: Bool = false) -> [Int] {
        var out: [Int] = []
        if addBOS, let bosId { out.append(bosId) }
        let utf8 = Array(text.utf8)
        var segmentStart = 0, i = 0
        while i < utf8.count {
            if let candidates = addedByFirstByte[utf8[i]],
               let match = candidates.first(where: { c in c.bytes.count <= utf8.count - i && utf8[i..<(i + c.bytes.count)].elementsEqual(c.bytes) }) {
                encodeOrdinary(utf8[segmentStart..<i], into: &out)
                out.append(match.id)
                i += match.bytes.count
                segmentStart = i
            } else {
                i += 1
            }
        }
        encodeOrdinary(utf8[segmentStart..<utf8.count], into: &out)
        return out
    }

    /// Pre-tokenizes and encodes text that holds no added token.
    func encodeOrdinary(_ bytes: ArraySlice<UInt8>, into out: inout [Int]) {
        guard !bytes.isEmpty else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        let scalars = Array(text.unicodeScalars)
        var scalarToIndex: [String.Index] = []
        scalarToIndex.reserveCapacity(scalars.count + 1)
        var index = text.unicodeScalars.startIndex
        while index < text.unicodeScalars.endIndex {
            scalarToIndex.append(index)
            index = text.unicodeScalars.index(after: index)
        }
        scalarToIndex.append(text.endIndex)
        for range in preTokenizer.split(scalars) {
            out += encoder.encode(word: text[scalarToIndex[range.lowerBound]..<scalarToIndex[range.upperBound]])
        }
    }

    /// The BPE ids of one pre-tokenized word, by the heap merge (bypassing the cache).
    public func encodeWord(_ word: String) -> [Int] { encoder.encodeUncached(Array(word.utf8)) }

    /// The BPE ids of one word by the naive quadratic merge (the reference twin of `encodeWord`).
    public func encodeWordReference(_ word: String) -> [Int] { encoder.encodeReference(Array(word.utf8)) }

    /// The raw bytes token `id` stands for (added tokens: their text; byte tokens `<0xXX>`: that byte).
    public func bytes(for id: Int) -> [UInt8] {
        guard id >= 0 && id < tokens.count else { return [] }
        let token = tokens[id]
        if addedTokenIds.contains(id) { return Array(token.utf8) }
        if let b = ByteLevel.decode(token) { return b }
        if token.utf8.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">"), let b = UInt8(token.dropFirst(3).prefix(2), radix: 16) { return [b] }
        return Array(token.utf8)
    }

    /// The text of `ids` (invalid UTF-8 becomes U+FFFD); special tokens are dropped when `skipSpecial`.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids where !(skipSpecial && specialTokenIds.contains(id)) { bytes += self.bytes(for: id) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A decoder that turns ids into text piece by piece, holding back incomplete UTF-8.
    public func streamDecoder(skipSpecial: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecial: skipSpecial)
    }
}

/// Incremental decoding: `append(id)` returns the text that became complete (possibly empty).
public struct StreamingDecoder {
    let tokenizer: Tokenizer
    let skipSpecial: Bool
    var pending: [UInt8] = []

    init(tokenizer: Tokenizer, skipSpecial: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Adds one token and returns the newly complete text.
    public mutating func append(_ id: Int) -> String {
        if skipSpecial && tokenizer.specialTokenIds.contains(id) { return "" }
        pending += tokenizer.bytes(for: id)
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[0..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is still held back (an incomplete sequence), decoded with U+FFFD; clears the buffer.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of the prefix that ends on a UTF-8 boundary: a trailing lead byte whose sequence is
    /// not complete yet is held back (invalid bytes are let through, to be shown as U+FFFD).
    public static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var start = n - 1
        // Look back at most 3 continuation bytes for the lead byte of the last sequence.
        while start >= 0 && start >= n - 4 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0 && start >= n - 4 else { return n }
        let lead = bytes[start]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return n
        }
        return n - start < needed ? start : n
    }
}
