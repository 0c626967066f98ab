/// A tokenized example: ids and shifted labels of one length.
public struct TokenizedExample: Equatable, Sendable {
    /// Token ids, at most `maxSeqLen`.
    public var ids: [Int]
    /// `labels[t]` is the target for the logits at position t (`ids[t+1]`), or `TokenBatch.ignoreIndex`.
    public var labels: [Int]
    /// Positions that take loss.
    public var targetCount: Int { labels.filter { $0 != -100 }.count }
}

extension SFTExample {
    /// Tokenizes as the reference does: `source + target` and `source` separately, both truncated to
    /// `maxSeqLen`; the first `len(source ids)` positions take no loss unless `trainOnInputs`.
    ///
    /// The reference's labels equal the ids with the prompt masked, and the model shifts them; here the
    /// shift is done: position t predicts token t+1, and the last position predicts nothing.
    public func tokenized(with tokenizer: SFTTokenizer, maxSeqLen: Int, trainOnInputs: Bool) throws -> TokenizedExample {
        let ids = Array(try tokenizer.encode(source + target).prefix(maxSeqLen))
        let promptLength = trainOnInputs || source.isEmpty ? 0 : min(try tokenizer.encode(source).count, maxSeqLen)
        var labels = [Int](repeating: -100, count: ids.count)
        for t in 0..<max(0, ids.count - 1) where t + 1 >= promptLength {
            labels[t] = ids[t + 1]
        }
        return TokenizedExample(ids: ids, labels: labels)
    }
}
