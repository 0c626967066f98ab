import Foundation
import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
import FuRATrain
import Testing

// Legend: B sequences, T positions, N = B·T rows, V vocabulary, C embedding width.

/// A real (tiny) language model for the training tests: logits(t) = lm_head(embed[ids[t]]), a bigram LM
/// with a hand-written backward. Both tensors train.
final class BigramLM: LanguageModel {
    let config: ModelConfig
    let embedding: Parameter
    var head: any LinearLayer

    init(vocabulary: Int, width: Int, seed: UInt64) throws {
        config = ModelConfig(hiddenSize: width, intermediateSize: width, numHiddenLayers: 1, numAttentionHeads: 1,
                             headDim: 2, vocabSize: vocabulary)
        embedding = Parameter(name: "model.embed_tokens.weight",
                              value: TestSupport.random([vocabulary, width], seed: seed, std: 0.5), trainable: true)
        let dense = try DenseLinear(weight: TestSupport.random([vocabulary, width], seed: seed + 1, std: 0.5),
                                    bias: TestSupport.random([vocabulary], seed: seed + 2, std: 0.1))
        dense.weight.trainable = true
        dense.bias?.trainable = true
        head = dense
    }

    var linearSlotNames: [String] { ["lm_head"] }
    func linear(named name: String) -> (any LinearLayer)? { name == "lm_head" ? head : nil }
    func setLinear(_ layer: any LinearLayer, named name: String) throws {
        guard name == "lm_head" else { throw LayerError.invalidOption(layer: "BigramLM", option: "slot", value: name, reason: "no such slot") }
        head = layer
    }
    var headShape: HeadShape? { nil }
    var otherParameters: [(name: String, parameter: Parameter)] { [("model.embed_tokens.weight", embedding)] }
    var namedParameters: [(name: String, parameter: Parameter)] {
        otherParameters + head.parameters.map { ("lm_head." + $0.name, $0.parameter) }
    }

    /// Embeds every position: (N, C).
    private func embed(_ batch: TokenBatch) -> Tensor {
        let c = config.hiddenSize
        var x = Tensor.zeros([batch.batchSize * batch.sequenceLength, c])
        for (b, row) in batch.ids.enumerated() {
            for (t, id) in row.enumerated() {
                for j in 0..<c { x.storage[(b * batch.sequenceLength + t) * c + j] = embedding.value.storage[id * c + j] }
            }
        }
        return x
    }

    /// Log-softmax of one logit row at `label`, and the softmax.
    private func logSoftmax(_ logits: Tensor, row: Int) -> [Double] {
        let v = config.vocabSize
        let slice = (0..<v).map { Double(logits.storage[row * v + $0]) }
        let top = slice.max() ?? 0
        let logZ = top + log(slice.reduce(0) { $0 + exp($1 - top) })
        return slice.map { $0 - logZ }
    }

    func accumulateGradients(_ batch: TokenBatch, lossScale: Float) throws -> (lossSum: Double, targets: Int) {
        let v = config.vocabSize, c = config.hiddenSize, t = batch.sequenceLength
        let logits = try head.forward(embed(batch), keepForBackward: true)
        var dLogits = Tensor.zeros(logits.shape)
        var loss = 0.0, targets = 0
        for b in 0..<batch.batchSize {
            for p in 0..<min(t, batch.lengths[b]) {
                let label = batch.labels[b][p]
                if label == TokenBatch.ignoreIndex { continue }
                let row = b * t + p
                let lp = logSoftmax(logits, row: row)
                loss -= lp[label]
                targets += 1
                for k in 0..<v { dLogits.storage[row * v + k] = lossScale * Float(exp(lp[k])) }
                dLogits.storage[row * v + label] -= lossScale
            }
        }
        let dX = try head.backward(dLogits)
        if embedding.trainable {
            for (b, row) in batch.ids.enumerated() {
                for (p, id) in row.enumerated() {
                    for j in 0..<c { embedding.gradient!.storage[id * c + j] += dX.storage[(b * t + p) * c + j] }
                }
            }
        }
        head.releaseForwardCache()
        return (loss, targets)
    }

    func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]] {
        let t = batch.sequenceLength
        let logits = try head.forward(embed(batch), keepForBackward: false)
        return (0..<batch.batchSize).map { b in
            (0..<t).map { p in
                let label = batch.labels[b][p]
                return label == TokenBatch.ignoreIndex || p >= batch.lengths[b] ? 0 : Float(logSoftmax(logits, row: b * t + p)[label])
            }
        }
    }

    /// Every trainable tensor's bits, for exact comparisons.
    var trainableBits: [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: namedParameters.filter { $0.parameter.trainable }.map { ($0.name, $0.parameter.value.storage.map(\.bitPattern)) })
    }
}

/// A character-level tokenizer over 7-bit ASCII (ids = code points; others map to `?`).
enum CharacterTokenizer {
    static func encode(_ text: String) -> [Int] { text.unicodeScalars.map { $0.value < 128 ? Int($0.value) : 63 } }
    static let sft = SFTTokenizer(encode: { encode($0) }, eosText: "\u{4}", padId: 0)
}

@Suite struct TrainBigramModelTests {
    @Test func backwardMatchesFiniteDifferences() throws {
        let model = try BigramLM(vocabulary: 11, width: 4, seed: 3)
        let batch = TokenBatch.padded(sequences: [[1, 5, 7, 2], [3, 9]], targets: [[5, 7, 2, -100], [-100, 4]], padId: 0)
        let scale: Float = 0.37
        _ = try model.accumulateGradients(batch, lossScale: scale)
        for (name, parameter) in model.namedParameters {
            let analytic = parameter.gradient!
            let original = parameter.value
            let indices = TestSupport.sampleIndices(count: original.count, maximum: 16)
            let numeric = try TestSupport.numericGradient(of: { x in
                parameter.value = x
                defer { parameter.value = original }
                return Double(scale) * (try model.labelLogProbabilities(batch).flatMap { $0 }.reduce(0.0) { $0 - Double($1) })
            }, at: original, indices: indices, step: 1e-2)
            let difference = TestSupport.maxRelativeDifference(indices.map { Double(analytic.storage[$0]) }, numeric)
            #expect(difference < 2e-3, "\(name): \(difference)")
        }
    }

    @Test func lossSumCountsOnlyTargets() throws {
        let model = try BigramLM(vocabulary: 7, width: 3, seed: 1)
        let batch = TokenBatch.padded(sequences: [[1, 2, 3], [4]], targets: [[2, 3, -100], [5]], padId: 0)
        let (loss, targets) = try model.accumulateGradients(batch, lossScale: 1)
        #expect(targets == 3)
        let expected = try model.labelLogProbabilities(batch).flatMap { $0 }.reduce(0.0) { $0 - Double($1) }
        #expect(abs(loss - expected) < 1e-4)
    }
}
