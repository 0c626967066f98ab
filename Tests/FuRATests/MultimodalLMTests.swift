import Foundation
import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
import FuRAVision
import Testing

/// The splice seam of the causal LM and the projector behind it: spliced rows equal to the token embeddings give the
/// plain forward; the gradients of the rows, and of the projector's weights through them, match finite differences.
@Suite struct MultimodalLMTests {
    static let config = CausalLMTests.config(tied: true, bias: false, qkNorm: false)
    /// Two sequences; positions 1…3 of the first and 0…2 of the second are an image's rows.
    static let batch = TokenBatch(ids: [[1, 0, 0, 0, 9, 2, 7], [0, 0, 0, 8, 4, 5, 0]],
                                  labels: [[-100, -100, -100, -100, 2, 7, 11], [-100, -100, -100, 4, 5, -100, -100]],
                                  lengths: [7, 6],
                                  spliced: [SplicedRows(sequence: 0, position: 1, count: 3, source: 1),
                                            SplicedRows(sequence: 1, position: 0, count: 3, source: 0)])

    static func features(_ source: Int) -> Tensor {
        var rng = RNG(seed: UInt64(100 + source))
        return Tensor.randomNormal([3, 5], std: 1, rng: &rng)
    }

    @Test func splicingTheTokenEmbeddingsIsThePlainForward() throws {
        let model = try CausalLM.random(config: Self.config, seed: 3)
        let ids = [[1, 5, 9, 2, 7]]
        let plain = try model.forward(ids: ids, lengths: [5], keepForBackward: false)
        let rows = try model.embedding.forward([5, 9])
        let spliced = try model.forward(ids: [[1, 0, 0, 2, 7]], lengths: [5], keepForBackward: false,
                                        spliced: [SplicedRows(sequence: 0, position: 1, count: 2, source: 0, rows: rows)])
        #expect(spliced.storage == plain.storage)
    }

    @Test func splicedRowGradientsMatchFiniteDifferences() throws {
        let model = try CausalLM.random(config: Self.config, seed: 4)
        var rng = RNG(seed: 9)
        var batch = Self.batch
        for i in batch.spliced.indices { batch.spliced[i].rows = Tensor.randomNormal([3, 16], std: 0.5, rng: &rng) }
        let result = try model.accumulateGradientsThroughSplices(batch, lossScale: 1)
        #expect(result.targets == 5)
        for (k, analytic) in result.splicedGradients.enumerated() {
            let gap = try gradientGap(analytic: analytic, at: batch.spliced[k].rows, maximum: 16, step: 1e-2) { rows in
                var b = batch
                b.spliced[k].rows = rows
                return try model.labelLogProbabilities(b).joined().reduce(0.0) { $0 - Double($1) }
            }
            #expect(gap < 2e-2, "block \(k): relative gap \(gap)")
        }
    }

    @Test(arguments: Projector.Kind.allCases)
    func projectorGradientsThroughTheLanguageModelMatchFiniteDifferences(kind: Projector.Kind) throws {
        let language = try CausalLM.random(config: Self.config, seed: 5)
        let projector = try Projector(kind: kind, visionWidth: 5, textWidth: 16, seed: 2)
        let model = try MultimodalLM(language: language, projector: projector, features: Self.features)
        #expect(model.namedParameters.filter { $0.name.hasPrefix("model.mm_projector") }.count == (kind == .linear ? 2 : 4))
        for (_, p) in projector.namedParameters { p.zeroGradient() }
        _ = try model.accumulateGradients(Self.batch, lossScale: 1)
        for (name, p) in projector.namedParameters {
            let analytic = try #require(p.gradient)
            let original = p.value
            let gap = try gradientGap(analytic: analytic, at: original, maximum: 12, step: 1e-2) { value in
                p.value = value
                defer { p.value = original }
                return try model.labelLogProbabilities(Self.batch).joined().reduce(0.0) { $0 - Double($1) }
            }
            #expect(gap < 2e-2, "\(name): relative gap \(gap)")
        }
    }

    @Test func refusesSplicesThatDoNotFit() throws {
        let model = try CausalLM.random(config: Self.config, seed: 6)
        var batch = Self.batch
        for i in batch.spliced.indices { batch.spliced[i].rows = Tensor.zeros([3, 16]) }
        var outside = batch
        outside.spliced[1].position = 4  // past the second sequence's length 6
        #expect(throws: ModelError.self) { try model.labelLogProbabilities(outside) }
        var wide = batch
        wide.spliced[0].rows = Tensor.zeros([3, 15])
        #expect(throws: ModelError.self) { try model.labelLogProbabilities(wide) }
        var target = batch
        target.labels[0][1] = 4  // predicts a spliced placeholder
        #expect(throws: ModelError.self) { try model.accumulateGradients(target, lossScale: 1) }
    }
}
