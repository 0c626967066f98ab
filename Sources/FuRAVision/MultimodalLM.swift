import FuRAModels
import FuRANN
import FuRATensor

/// A causal LM that reads images (LLaVA): each spliced block of a batch names an image (`SplicedRows.source`), whose
/// frozen tower features go through the trainable projector into the LM's input embeddings; backward sends the rows'
/// gradient back through the projector. To the training loop it is one `LanguageModel` whose parameters are the LM's
/// and the projector's (LLaVA's names, `model.mm_projector.*`), so checkpoints, resume and clipping cover both.
public final class MultimodalLM: LanguageModel {
    public let language: CausalLM
    public let projector: Projector
    /// The tower features (patches, vision width) of image `source`; frozen, so a cache may answer.
    public let features: (Int) throws -> Tensor

    public init(language: CausalLM, projector: Projector, features: @escaping (Int) throws -> Tensor) throws {
        guard projector.outputWidth == language.config.hiddenSize else {
            throw VisionTowerError.badOption(option: "projector", value: "output width \(projector.outputWidth)",
                                             reason: "the language model's hidden size is \(language.config.hiddenSize)")
        }
        self.language = language; self.projector = projector; self.features = features
    }

    public var config: ModelConfig { language.config }

    /// The batch with every spliced block's rows filled by the projector (kept for backward when asked).
    public func projected(_ batch: TokenBatch, keepForBackward: Bool) throws -> TokenBatch {
        guard !batch.spliced.isEmpty else { return batch }
        var stacked: [Float] = []
        var width = 0
        for rows in batch.spliced {
            let f = try features(rows.source)
            guard f.rank == 2, f.shape[0] == rows.count, f.shape[1] == projector.inputWidth else {
                throw VisionTowerError.badInput(reason: "image \(rows.source) has features \(f.shape); the batch expects "
                    + "[\(rows.count), \(projector.inputWidth)] (same tower and --image-size as when the data was prepared)")
            }
            width = f.shape[1]
            stacked += f.storage
        }
        let all = try projector.forward(Tensor(shape: [stacked.count / width, width], data: stacked), keepForBackward: keepForBackward)
        var out = batch
        var offset = 0
        let c = config.hiddenSize
        for i in out.spliced.indices {
            let n = out.spliced[i].count
            out.spliced[i].rows = try Tensor(shape: [n, c], data: Array(all.storage[(offset * c)..<((offset + n) * c)]))
            offset += n
        }
        return out
    }

    public func accumulateGradients(_ batch: TokenBatch, lossScale: Float) throws -> (lossSum: Double, targets: Int) {
        let filled = try projected(batch, keepForBackward: true)
        let result = try language.accumulateGradientsThroughSplices(filled, lossScale: lossScale)
        if !batch.spliced.isEmpty {
            let c = config.hiddenSize
            let gradient = try Tensor(shape: [result.splicedGradients.reduce(0) { $0 + $1.shape[0] }, c],
                                      data: result.splicedGradients.flatMap(\.storage))
            _ = try projector.backward(gradient)
        }
        return (result.lossSum, result.targets)
    }

    public func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]] {
        try language.labelLogProbabilities(projected(batch, keepForBackward: false))
    }

    // MARK: LinearHost (the language model's slots; the projector is among the other parameters)

    public var linearSlotNames: [String] { language.linearSlotNames }
    public func linear(named name: String) -> (any LinearLayer)? { language.linear(named: name) }
    public func setLinear(_ layer: any LinearLayer, named name: String) throws { try language.setLinear(layer, named: name) }
    public var headShape: HeadShape? { language.headShape }
    public var otherParameters: [(name: String, parameter: Parameter)] { language.otherParameters + projector.namedParameters }
    public var namedParameters: [(name: String, parameter: Parameter)] { language.namedParameters + projector.namedParameters }
}
