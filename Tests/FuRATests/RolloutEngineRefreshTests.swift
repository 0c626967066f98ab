@testable import FuRA
@testable import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
@testable import FuRATrain
import Testing

/// GRPO's rollout engine is built once and refreshed in place: after the weights change, its logits equal a freshly
/// built engine's bit for bit.
@Suite struct RolloutEngineRefreshTests {
    /// Logits of every position of one prompt.
    static func logits(_ engine: GenerationModel) throws -> [Float] {
        let cache = try engine.makeCache(slots: 1, capacity: 16)
        return try engine.step(cache: cache, slots: [0], tokens: [[3, 1, 4, 1, 5, 9, 2, 6]], allPositions: true).storage
    }

    @Test(arguments: [GenerationWeightPrecision.float32, .bfloat16, .bfloat16Compute])
    func refreshedEngineEqualsANewOne(precision: GenerationWeightPrecision) throws {
        let model = try CausalLM.random(config: GenerationModelTests.config(bias: true), seed: 1)
        let engine = try GenerationModel(model: model, precision: precision)
        let before = try Self.logits(engine)
        var rng = RNG(seed: 4)
        for slot in model.linearSlotNames {
            guard let dense = model.linear(named: slot) as? DenseLinear else { continue }
            dense.weight.value = Tensor.randomNormal(dense.weight.value.shape, std: 0.1, rng: &rng)
            if let bias = dense.bias { bias.value = Tensor.randomNormal(bias.value.shape, std: 0.1, rng: &rng) }
        }
        try engine.refreshWeights()
        let after = try Self.logits(engine)
        #expect(after != before)
        #expect(after == (try Self.logits(try GenerationModel(model: model, precision: precision))))
        // Only what changed is re-packed: one projection of a fused q/k/v (k alone), then nothing.
        let k = try #require(model.linear(named: model.linearSlotNames.first { $0.hasSuffix("k_proj") }!) as? DenseLinear)
        k.weight.value = Tensor.randomNormal(k.weight.value.shape, std: 0.1, rng: &rng)
        try engine.refreshWeights()
        #expect(try Self.logits(engine) == (try Self.logits(try GenerationModel(model: model, precision: precision))))
        let version = k.weight.version
        try engine.refreshWeights()
        #expect(k.weight.version == version)
    }

    @Test func quantizedEnginesAreNotRefreshedInPlace() throws {
        let model = try CausalLM.random(config: GenerationModelTests.config(), seed: 1)
        #expect(throws: GenerationError.self) { try GenerationModel(model: model, precision: .int8).refreshWeights() }
    }

    /// A FuRA policy: after its trainable factors change, the kept rollout engine gives the logits of an engine built
    /// over a fresh dense copy.
    @Test func rolloutEngineFollowsTheTrainedFactors() throws {
        let policy = try CausalLM.random(config: GenerationModelTests.config(), seed: 2)
        _ = try Conversion.convert(policy, options: ConversionOptions(), measureReconstruction: false)
        let rollouts = GRPORolloutEngine(policy: policy, precision: .float32)
        let first = try rollouts.engine()
        let before = try Self.logits(first)
        var rng = RNG(seed: 7)
        for (_, p) in policy.namedParameters where p.trainable {
            p.value = try p.value + Tensor.randomNormal(p.value.shape, std: 0.05, rng: &rng)
        }
        let second = try rollouts.engine()
        #expect(second === first)
        let after = try Self.logits(second)
        #expect(after != before)
        #expect(after == (try Self.logits(try GenerationModel(model: try GRPORolloutEngine.denseCopy(of: policy), precision: .float32))))
    }
}
