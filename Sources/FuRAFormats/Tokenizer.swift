import Foundation

/// A byte-level BPE tokenizer (GPT-2, SmolLM2, Llama-3, Qwen2 families), or a SentencePiece-style BPE
/// one (Gemma, `SentencePieceBPE`), with special tokens and chat templates.
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
    /// Set for SentencePiece vocabularies: it encodes and spells tokens instead of the byte-level encoder.
    let sentencePiece: SentencePieceBPE?
    /// Added tokens grouped by their first UTF-8 byte, longest first.
    let addedByFirstByte: [UInt8: [(bytes: [UInt8], id: Int)]]

    /// Builds a tokenizer from its parts (ids index `tokens`; merges are token pairs in rank order).
    public convenience init(tokens: [String], merges: [(String, String)], addedTokenIds: Set<Int>, specialTokenIds: Set<Int>,
                            preTokenizer: PreTokenizer, bosId: Int?, eosId: Int?, padId: Int?, unknownId: Int?,
                            addsBOSByDefault: Bool = false, ignoreMerges: Bool = false, source: String) throws {
        try self.init(tokens: tokens, merges: .pairs(merges.map { (Array($0.0.utf8), Array($0.1.utf8)) }), addedTokenIds: addedTokenIds,
                      specialTokenIds: specialTokenIds, preTokenizer: preTokenizer, bosId: bosId, eosId: eosId, padId: padId,
                      unknownId: unknownId, addsBOSByDefault: addsBOSByDefault, ignoreMerges: ignoreMerges, source: source)
    }

    init(tokens: [String], merges: BytePairEncoder.Merges, addedTokenIds: Set<Int>, specialTokenIds: Set<Int>,
         preTokenizer: PreTokenizer, bosId: Int?, eosId: Int?, padId: Int?, unknownId: Int?,
         addsBOSByDefault: Bool, ignoreMerges: Bool, sentencePiece: SentencePieceBPE? = nil, source: String) throws {
        self.sentencePiece = sentencePiece
        var vocabulary = TokenTable(capacity: tokens.count)
        for token in tokens { vocabulary.append(token) }
        for id in tokens.indices where !addedTokenIds.contains(id) { vocabulary.insert(id, replace: true) }
        for id in addedTokenIds.sorted() where id >= 0 && id < tokens.count { vocabulary.insert(id, replace: false) }
        for (field, id) in [("bos", bosId), ("eos", eosId), ("pad", padId), ("unknown", unknownId)] {
            if let id, id < 0 || id >= tokens.count {
                throw TokenizerError.invalidField(source: source, field: "\(field) token id", reason: "\(id) is outside the vocabulary of \(tokens.count)")
            }
        }
        self.tokens = tokens
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

    /// Whether this is a SentencePiece-style vocabulary (`▁` for spaces, byte fallback; GGUF model `llama`).
    public var isSentencePiece: Bool { sentencePiece != nil }

    /// The number of token ids.
    public var vocabularySize: Int { tokens.count }

    /// The string of token `id` (byte-level form), or nil when out of range.
    public func token(for id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    /// The id of a token string (byte-level form, or an added token's text).
    public func id(for token: String) -> Int? {
        encoder.vocabulary.find(token)
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
        if let sentencePiece {
            out += sentencePiece.encode(bytes)
            return
        }
        // Decode the (valid) UTF-8 into scalars, remembering where each scalar starts.
        var scalars: [Unicode.Scalar] = []
        var starts: [Int] = []
        scalars.reserveCapacity(bytes.count)
        starts.reserveCapacity(bytes.count + 1)
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var position = bytes.startIndex
        loop: while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(s):
                scalars.append(s)
                starts.append(position)
                position += UTF8.width(s)
            case .emptyInput: break loop
            case .error:
                scalars.append("\u{FFFD}")
                starts.append(position)
                position += 1
            }
        }
        starts.append(bytes.endIndex)
        for range in preTokenizer.split(scalars) {
            out += encoder.encode(word: bytes[starts[range.lowerBound]..<starts[range.upperBound]])
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
        if let sentencePiece { return sentencePiece.bytes(of: token, id: id) }
        if let b = encoder.byteFallbackIds[id] { return [b] }
        return ByteLevel.decode(token) ?? Array(token.utf8)
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
