import Foundation
import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
import Testing

@Suite struct CausalLMTests {
    static func config(tied: Bool, bias: Bool, qkNorm: Bool, scaled: Bool = false) -> ModelConfig {
        ModelConfig(hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                    vocabSize: 23, rmsNormEps: 1e-5, ropeTheta: 100,
                    ropeScaling: scaled ? .init(ropeType: "llama3", factor: 4, lowFreqFactor: 1, highFreqFactor: 2, originalMaxPositionEmbeddings: 16) : nil,
                    maxPositionEmbeddings: 64, tieWordEmbeddings: tied, attentionBias: bias, qkNorm: qkNorm)
    }

    static let batch = TokenBatch(ids: [[1, 5, 9, 2, 7], [3, 3, 8, 0, 0]],
                                  labels: [[5, 9, -100, 7, 11], [3, 8, 20, -100, -100]], lengths: [5, 3])

    static func lossSum(_ model: CausalLM, _ batch: TokenBatch = batch) throws -> Double {
        try model.labelLogProbabilities(batch).joined().reduce(0.0) { $0 - Double($1) }
    }

    /// A tiny Gemma 3: GeGLU, 1 + w norms, √C embedding scale, q/k norms, four norms per layer, sliding
    /// windows of 2 (shorter than the batch's 5 positions) on layers 0 and 2 with their own RoPE base, a
    /// query_pre_attn_scalar other than head_dim, tied head.
    static let gemma3 = ModelConfig(modelType: "gemma3_text", hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 3,
                                    numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 6, vocabSize: 23, rmsNormEps: 1e-6,
                                    ropeTheta: 1000, maxPositionEmbeddings: 64, tieWordEmbeddings: true, qkNorm: true,
                                    slidingWindow: 2, layerTypes: ["sliding_attention", "full_attention", "sliding_attention"],
                                    localRopeTheta: 10, queryPreAttnScalar: 5)

    @Test(arguments: [(true, false, false, false), (false, true, true, true), (true, true, false, true)])
    func wholeModelBackwardMatchesFiniteDifferences(tied: Bool, bias: Bool, qkNorm: Bool, scaled: Bool) throws {
        let model = try CausalLM.random(config: Self.config(tied: tied, bias: bias, qkNorm: qkNorm, scaled: scaled), seed: 7)
        try Self.checkWholeModelBackward(model)
        #expect(model.namedParameters.contains { $0.name.hasSuffix("q_norm.weight") } == qkNorm)
        #expect(model.namedParameters.contains { $0.name.hasSuffix("q_proj.bias") } == bias)
    }

    @Test func gemma3BackwardMatchesFiniteDifferences() throws {
        let model = try CausalLM.random(config: Self.gemma3, seed: 9)
        #expect(model.blocks.map { $0.attention.window } == [2, nil, 2])
        #expect(model.blocks[0].rope != model.blocks[1].rope && model.blocks[0].rope == model.blocks[2].rope)
        #expect(model.embedding.scale == Float(4) && model.blocks[0].mlp.activation == .geluTanh)
        try Self.checkWholeModelBackward(model)
        let names = Set(model.namedParameters.map { $0.name })
        for leaf in ["post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm", "self_attn.k_norm"] {
            #expect(names.contains("model.layers.2.\(leaf).weight"), "\(leaf)")
        }
    }

    /// Every parameter kind's gradient against central finite differences of the summed loss.
    static func checkWholeModelBackward(_ model: CausalLM) throws {
        let tied = model.config.tieWordEmbeddings
        for (_, p) in model.namedParameters { p.trainable = true }
        let (loss, targets) = try model.accumulateGradients(Self.batch, lossScale: 1)
        #expect(targets == 7)
        #expect(abs(loss - (try Self.lossSum(model))) < 1e-4)
        var kinds = Set<String>()
        for (name, p) in model.namedParameters {
            let indices = TestSupport.sampleIndices(count: p.count, maximum: 3)
            let numeric = try TestSupport.numericGradient(indices: indices, read: { p.value.storage[$0] },
                                                          write: { p.value.storage[$0] = $1 }) { try Self.lossSum(model) }
            let analytic = indices.map { Double(p.gradient!.storage[$0]) }
            let scale = max(1e-2, numeric.map(abs).max() ?? 0)
            let gap = zip(analytic, numeric).map { abs($0 - $1) }.max()! / scale
            #expect(gap < 3e-2, "\(name): analytic \(analytic) numeric \(numeric)")
            kinds.insert(name.split(separator: ".").suffix(2).joined(separator: "."))
        }
        #expect(kinds.contains("embed_tokens.weight") && kinds.contains("input_layernorm.weight") && kinds.contains("norm.weight"))
        #expect(kinds.contains("lm_head.weight") == !tied)
    }

    @Test func checkpointedBackwardEqualsPlainBackward() throws {
        let model = try CausalLM.random(config: Self.config(tied: false, bias: true, qkNorm: true), seed: 3)
        for (_, p) in model.namedParameters { p.trainable = true }
        let plainLoss = try model.accumulateGradients(Self.batch, lossScale: 0.25).lossSum
        let plain = model.namedParameters.map { $0.parameter.gradient! }
        for (_, p) in model.namedParameters { p.zeroGradient() }
        model.gradientCheckpointing = true
        let checkpointedLoss = try model.accumulateGradients(Self.batch, lossScale: 0.25).lossSum
        #expect(plainLoss == checkpointedLoss)
        for (g, (name, p)) in zip(plain, model.namedParameters) {
            #expect(try p.gradient!.relativeError(to: g) < 1e-6, "\(name)")
        }
    }

    @Test func paddingDoesNotChangeRealPositionsAndCachedDecodingMatches() throws {
        let model = try CausalLM.random(config: Self.config(tied: true, bias: false, qkNorm: true), seed: 5)
        let alone = try model.labelLogProbabilities(TokenBatch(ids: [[3, 3, 8]], labels: [[3, 8, 20]], lengths: [3]))
        let padded = try model.labelLogProbabilities(Self.batch)
        for t in 0..<3 { #expect(abs(alone[0][t] - padded[1][t]) < 1e-5) }
        let ids = [1, 5, 9, 2, 7]
        let full = try model.logits(for: [ids], allPositions: true)
        var cache: [KeyValue] = []
        var stepwise: [Float] = []
        _ = try model.forwardCached(ids: [Array(ids[0..<2])], cache: &cache)
        for t in 2..<5 {
            let h = try model.forwardCached(ids: [[ids[t]]], cache: &cache)
            stepwise += try model.logits(hidden: h).storage
        }
        #expect(cache.first?.length == 5)
        let expected = Array(full.storage[(2 * 23)...])
        #expect(try Tensor.vector(stepwise).relativeError(to: Tensor.vector(expected)) < 1e-5)
        let last = try model.logits(for: [ids, [1, 5, 9, 0, 0]], lengths: [5, 3])
        // Equal up to summation order: the products of a 2-sequence batch may be sliced across threads differently.
        #expect(try Tensor.vector(Array(last.storage[0..<23])).relativeError(to: Tensor.vector(Array(full.storage[(4 * 23)...]))) < 1e-6)
        #expect(try Tensor.vector(Array(last.storage[23...])).relativeError(to: Tensor.vector(Array(full.storage[(2 * 23)..<(3 * 23)]))) < 1e-5)
    }

    @Test func slotsAndParametersUseHFNames() throws {
        let model = try CausalLM.random(config: Self.config(tied: false, bias: true, qkNorm: true), seed: 1)
        #expect(model.linearSlotNames.count == 14)
        #expect(model.linearSlotNames.first == "model.layers.0.self_attn.q_proj")
        #expect(model.linearSlotNames.last == "model.layers.1.mlp.down_proj")
        let names = model.namedParameters.map(\.name)
        #expect(names.contains("lm_head.weight") && names.contains("model.layers.1.self_attn.k_norm.weight"))
        #expect(names.contains("model.layers.0.self_attn.q_proj.bias"))
        #expect(Set(names).count == names.count)
        let replacement = try DenseLinear(weight: TestSupport.random([24, 16], seed: 2))
        try model.setLinear(replacement, named: "model.layers.1.mlp.up_proj")
        #expect(model.linear(named: "model.layers.1.mlp.up_proj") === replacement)
        #expect(throws: (any Error).self) { try model.setLinear(replacement, named: "model.layers.1.mlp.down_proj") }
        #expect(throws: ModelError.unknownSlot(name: "model.layers.7.mlp.up_proj")) { try model.setLinear(replacement, named: "model.layers.7.mlp.up_proj") }
    }

    @Test func badBatchesAndWeightsAreTypedErrors() throws {
        let model = try CausalLM.random(config: Self.config(tied: true, bias: false, qkNorm: false), seed: 1)
        #expect(throws: ModelError.self) { try model.labelLogProbabilities(TokenBatch(ids: [[1, 2], [1]], labels: [[1, 2], [1]], lengths: [2, 1])) }
        #expect(throws: ModelError.self) { try model.labelLogProbabilities(TokenBatch(ids: [[1, 2]], labels: [[1, 2]], lengths: [3])) }
        #expect(throws: LayerError.self) { try model.labelLogProbabilities(TokenBatch(ids: [[1, 99]], labels: [[1, 2]], lengths: [2])) }
        #expect(throws: ModelError.missingTensor(source: "x.gguf", tensor: "model.embed_tokens.weight")) {
            try CausalLM(config: Self.config(tied: true, bias: false, qkNorm: false), source: "x.gguf") { _ in nil }
        }
        #expect(throws: ModelError.shapeMismatch(source: "x", tensor: "model.embed_tokens.weight", expected: [23, 16], actual: [2, 2])) {
            try CausalLM(config: Self.config(tied: true, bias: false, qkNorm: false), source: "x") { _ in Tensor.zeros([2, 2]) }
        }
    }
}
