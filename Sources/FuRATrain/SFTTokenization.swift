import FuRAModels
/// A tokenized example: ids and shifted labels of one length.
public struct TokenizedExample: Equatable, Sendable {
    /// Token ids, at most `maxSeqLen`.
    public var ids: [Int]
    /// `labels[t]` is the target for the logits at position t (`ids[t+1]`), or `TokenBatch.ignoreIndex`.
    public var labels: [Int]
    /// Image rows: (position, count, source) within `ids`.
    public var images: [(position: Int, count: Int, source: Int)] = []
    /// Positions that take loss.
    public var targetCount: Int { labels.filter { $0 != -100 }.count }

    /// The image rows as the splices of row `sequence` of a batch (rows unfilled).
    public func splicedRows(sequence: Int) -> [SplicedRows] {
        images.map { SplicedRows(sequence: sequence, position: $0.position, count: $0.count, source: $0.source) }
    }

    public static func == (a: TokenizedExample, b: TokenizedExample) -> Bool {
        a.ids == b.ids && a.labels == b.labels && a.images.map { [$0.position, $0.count, $0.source] } == b.images.map { [$0.position, $0.count, $0.source] }
    }
}

extension SFTExample {
    /// Tokenizes as the reference does: `source + target` and `source` separately, both truncated to
    /// `maxSeqLen`; the first `len(source ids)` positions take no loss unless `trainOnInputs`.
    ///
    /// The reference's labels equal the ids with the prompt masked, and the model shifts them; here the
    /// shift is done: position t predicts token t+1, and the last position predicts nothing.
    public func tokenized(with tokenizer: SFTTokenizer, maxSeqLen: Int, trainOnInputs: Bool) throws -> TokenizedExample {
        if let parts { return try Self.tokenized(parts, with: tokenizer, maxSeqLen: maxSeqLen, trainOnInputs: trainOnInputs) }
        let ids = Array(try tokenizer.encode(source + target).prefix(maxSeqLen))
        let promptLength = trainOnInputs || source.isEmpty ? 0 : min(try tokenizer.encode(source).count, maxSeqLen)
        var labels = [Int](repeating: -100, count: ids.count)
        for t in 0..<max(0, ids.count - 1) where t + 1 >= promptLength {
            labels[t] = ids[t + 1]
        }
        return TokenizedExample(ids: ids, labels: labels)
    }
}

extension SFTExample {
    /// Each text part encoded on its own, image parts as `count` placeholder rows (the pad id), cut at `maxSeqLen`
    /// (an image that would be cut is dropped with everything after it). A position's label is the next token when
    /// that token belongs to a training part.
    static func tokenized(_ parts: [Part], with tokenizer: SFTTokenizer, maxSeqLen: Int, trainOnInputs: Bool) throws -> TokenizedExample {
        var ids: [Int] = [], trains: [Bool] = []
        var images: [(position: Int, count: Int, source: Int)] = []
        parts: for part in parts {
            switch part {
            case let .text(text, partTrains):
                let encoded = try tokenizer.encode(text)
                ids += encoded
                trains += Array(repeating: partTrains || trainOnInputs, count: encoded.count)
            case let .image(source, count):
                guard ids.count + count <= maxSeqLen else { break parts }
                images.append((ids.count, count, source))
                ids += Array(repeating: tokenizer.padId, count: count)
                trains += Array(repeating: false, count: count)
            }
            if ids.count >= maxSeqLen { break parts }
        }
        ids = Array(ids.prefix(maxSeqLen))
        var labels = [Int](repeating: -100, count: ids.count)
        for t in 0..<max(0, ids.count - 1) where trains[t + 1] { labels[t] = ids[t + 1] }
        var out = TokenizedExample(ids: ids, labels: labels)
        out.images = images
        return out
    }
}
