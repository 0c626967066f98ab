import FuRAModels

/// Where the data of an optimizer step comes from, as a pure function of the step, so that a resumed
/// run sees exactly the batches of an uninterrupted one.
public protocol TrainingBatchSource {
    /// Optimizer steps in one pass over the data.
    var stepsPerEpoch: Int { get }
    /// The micro-batches of 0-based optimizer step `step` (one gradient-accumulation window).
    func window(forStep step: Int) throws -> [TokenBatch]
    /// Where the data stands once `steps` optimizer steps are done (stored in checkpoints and checked on resume).
    func cursor(afterSteps steps: Int) -> DataCursor
}

/// A position in the data: the epoch and the next micro-batch within it.
public struct DataCursor: Codable, Equatable, Sendable {
    public var epoch: Int
    public var microBatch: Int
    public init(epoch: Int, microBatch: Int) {
        self.epoch = epoch
        self.microBatch = microBatch
    }
    enum CodingKeys: String, CodingKey { case epoch, microBatch = "micro_batch" }
}
