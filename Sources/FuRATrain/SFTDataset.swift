import FuRAModels
import FuRATensor

/// SFT examples split into training and validation, batched in a seeded order.
///
/// The validation split is the last `valSize` indices of a seeded permutation (torch `random_split`'s
/// layout; the permutation itself comes from our generator, not torch's). The training order of epoch e
/// is a permutation that depends only on (seed, e). Micro-batches are consecutive runs of `batchSize`
/// examples (the last may be short, as a `DataLoader` without `drop_last`); an optimizer step takes
/// `gradientAccumulation` of them, and the last window of an epoch may be short (accelerate syncs at the
/// end of the loader). Examples are tokenized when their window is asked for.
public struct SFTDataset: TrainingBatchSource {
    public let train: [SFTExample]
    public let validation: [SFTExample]
    public let tokenizer: SFTTokenizer
    public let batchSize: Int
    public let gradientAccumulation: Int
    public let maxSeqLen: Int
    public let trainOnInputs: Bool
    public let seed: UInt64

    /// Splits `examples` (holding out `valSize` unless `validation` is given separately).
    public init(examples: [SFTExample], validation: [SFTExample]? = nil, valSize: Int = 0, tokenizer: SFTTokenizer,
                batchSize: Int, gradientAccumulation: Int, maxSeqLen: Int, trainOnInputs: Bool, seed: UInt64) throws {
        guard batchSize > 0 else { throw TrainingError.invalidOption(option: "batch-size", value: "\(batchSize)", reason: "must be positive") }
        guard gradientAccumulation > 0 else {
            throw TrainingError.invalidOption(option: "grad-accum", value: "\(gradientAccumulation)", reason: "must be positive")
        }
        guard maxSeqLen > 1 else { throw TrainingError.invalidOption(option: "max-seq-len", value: "\(maxSeqLen)", reason: "must be at least 2") }
        if let validation {
            train = examples
            self.validation = validation
        } else {
            guard valSize >= 0, valSize < examples.count else {
                throw TrainingError.invalidOption(option: "val-size", value: "\(valSize)",
                                                  reason: "must be in 0..<\(examples.count) (the number of examples)")
            }
            var rng = RNG(seed: seed)
            let order = Self.permutation(examples.count, rng: &rng)
            train = order.prefix(examples.count - valSize).map { examples[$0] }
            self.validation = order.suffix(valSize).map { examples[$0] }
        }
        guard !train.isEmpty else { throw TrainingError.invalidOption(option: "data", value: "\(examples.count) examples", reason: "nothing left to train on") }
        self.tokenizer = tokenizer
        self.batchSize = batchSize
        self.gradientAccumulation = gradientAccumulation
        self.maxSeqLen = maxSeqLen
        self.trainOnInputs = trainOnInputs
        self.seed = seed
    }

    /// Micro-batches per epoch: ⌈examples / batch size⌉.
    public var microBatchesPerEpoch: Int { (train.count + batchSize - 1) / batchSize }

    public var stepsPerEpoch: Int { (microBatchesPerEpoch + gradientAccumulation - 1) / gradientAccumulation }

    /// The training order of epoch `epoch` (indices into `train`), a pure function of (seed, epoch).
    public func order(epoch: Int) -> [Int] {
        var rng = RNG(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &+ 1)
        return Self.permutation(train.count, rng: &rng)
    }

    public func window(forStep step: Int) throws -> [TokenBatch] {
        let epoch = step / stepsPerEpoch
        let first = (step % stepsPerEpoch) * gradientAccumulation
        let last = min(first + gradientAccumulation, microBatchesPerEpoch)
        let order = order(epoch: epoch)
        return try (first..<last).map { b in
            let indices = order[(b * batchSize)..<min((b + 1) * batchSize, order.count)]
            return try batch(indices.map { train[$0] })
        }
    }

    public func cursor(afterSteps steps: Int) -> DataCursor {
        let epoch = steps / stepsPerEpoch
        return DataCursor(epoch: epoch, microBatch: min((steps % stepsPerEpoch) * gradientAccumulation, microBatchesPerEpoch))
    }

    /// The validation examples in batches of `batchSize` (fixed order).
    public func validationBatches(batchSize: Int? = nil) throws -> [TokenBatch] {
        let size = max(1, batchSize ?? self.batchSize)
        return try stride(from: 0, to: validation.count, by: size).map {
            try batch(Array(validation[$0..<min($0 + size, validation.count)]))
        }
    }

    /// Tokenizes and right-pads examples into one batch.
    public func batch(_ examples: [SFTExample]) throws -> TokenBatch {
        let tokenized = try examples.map { try $0.tokenized(with: tokenizer, maxSeqLen: maxSeqLen, trainOnInputs: trainOnInputs) }
        var batch = TokenBatch.padded(sequences: tokenized.map(\.ids), targets: tokenized.map(\.labels), padId: tokenizer.padId)
        batch.spliced = tokenized.enumerated().flatMap { b, example in example.splicedRows(sequence: b) }
        return batch
    }

    /// A Fisher–Yates permutation of 0..<n.
    static func permutation(_ n: Int, rng: inout RNG) -> [Int] {
        var result = Array(0..<n)
        if n < 2 { return result }
        for i in stride(from: n - 1, to: 0, by: -1) {
            result.swapAt(i, rng.int(below: i + 1))
        }
        return result
    }
}
