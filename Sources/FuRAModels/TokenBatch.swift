import FuRATensor

/// A batch of token sequences for training or scoring, right-padded to one length T.
///
/// Legend: B sequences, T positions.
public struct TokenBatch: Equatable, Sendable {
    /// B rows of T token ids (padding positions hold `padId`).
    public var ids: [[Int]]
    /// B rows of T labels: the token to predict *at* each position (already shifted, i.e. labels[b][t]
    /// is the target for the logits at position t), or `ignoreIndex` where no loss is taken.
    public var labels: [[Int]]
    /// B real lengths; positions ≥ length are padding and are masked out of attention.
    public var lengths: [Int]
    /// Rows whose input embeddings come from elsewhere (an image's projected features) instead of the token table;
    /// their ids are placeholders and their labels must be `ignoreIndex`.
    public var spliced: [SplicedRows] = []

    /// The label value that takes no loss (as in PyTorch).
    public static let ignoreIndex = -100

    public init(ids: [[Int]], labels: [[Int]], lengths: [Int], spliced: [SplicedRows] = []) {
        self.ids = ids
        self.labels = labels
        self.lengths = lengths
        self.spliced = spliced
    }

    /// B.
    public var batchSize: Int { ids.count }
    /// T.
    public var sequenceLength: Int { ids.first?.count ?? 0 }
    /// Number of positions that take loss.
    public var targetCount: Int { labels.reduce(0) { $0 + $1.filter { $0 != Self.ignoreIndex }.count } }

    /// Builds a batch from unpadded sequences; `targets[b][t]` is the label for position t of sequence b
    /// (same length as the sequence). Pads to the longest with `padId` and `ignoreIndex`.
    public static func padded(sequences: [[Int]], targets: [[Int]], padId: Int) -> TokenBatch {
        let t = sequences.map(\.count).max() ?? 0
        return TokenBatch(
            ids: sequences.map { $0 + Array(repeating: padId, count: t - $0.count) },
            labels: targets.map { $0 + Array(repeating: ignoreIndex, count: t - $0.count) },
            lengths: sequences.map(\.count))
    }
}

/// A run of positions whose input embeddings are given (the seam of images, audio or any other encoder): sequence
/// `sequence`, positions `position ..< position + count`.
public struct SplicedRows: Equatable, Sendable {
    public var sequence: Int
    public var position: Int
    public var count: Int
    /// Which encoder input these rows stand for (an image index), for whoever fills `rows`.
    public var source: Int
    /// (count, C) input embeddings; empty until filled.
    public var rows: Tensor

    public init(sequence: Int, position: Int, count: Int, source: Int, rows: Tensor = Tensor.zeros([0, 0])) {
        self.sequence = sequence; self.position = position; self.count = count; self.source = source; self.rows = rows
    }
}
