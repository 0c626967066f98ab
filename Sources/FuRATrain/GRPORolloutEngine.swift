import FuRAModels
import FuRANN
import FuRATensor

/// The generation engine GRPO samples the policy with. The first call materializes every adapted projection into a
/// dense copy of the model (as the reference syncs dense weights into vLLM, Docs/tracks.md §7 step 8) and packs an
/// engine over it; later calls write only what trains (the adapted projections' dense weights, trainable norms or
/// embeddings) into that copy and re-pack the engine in place, instead of building both again each step. Engines in
/// q8 or gguf precision hold quantized codes and are built afresh each time.
final class GRPORolloutEngine {
    let policy: CausalLM
    let precision: GenerationWeightPrecision
    private var cached: (model: CausalLM, engine: GenerationModel)?

    init(policy: CausalLM, precision: GenerationWeightPrecision) {
        self.policy = policy; self.precision = precision
    }

    /// An engine over the policy's current weights.
    func engine() throws -> GenerationModel {
        if let cached {
            try Self.copyTrainedWeights(from: policy, into: cached.model)
            try cached.engine.refreshWeights()
            return cached.engine
        }
        let model = try Self.denseCopy(of: policy)
        let engine = try GenerationModel(model: model, precision: precision)
        if precision.refreshesInPlace { cached = (model, engine) }
        return engine
    }

    /// `policy` with every projection materialized to a dense weight; embeddings, norms and the LM head are shared,
    /// not copied; the policy itself when every slot is already dense.
    static func denseCopy(of policy: CausalLM) throws -> CausalLM {
        var dense: [String: Tensor] = [:]
        var allDense = true
        for slot in policy.linearSlotNames {
            guard let layer = policy.linear(named: slot) else { continue }
            if !(layer is DenseLinear) { allDense = false }
            dense[slot + ".weight"] = try layer.denseWeight()
            if let bias = layer.denseBias { dense[slot + ".bias"] = bias }
        }
        if allDense { return policy }
        for (name, p) in policy.otherParameters { dense[name] = p.value }
        if !policy.config.tieWordEmbeddings { dense["lm_head.weight"] = policy.lmHead.value }
        return try CausalLM(config: policy.config, source: "rollout weights") { dense[$0] }
    }

    /// Writes into `copy` (a `denseCopy(of: policy)`) what trains in `policy`: the dense weight and bias of each
    /// projection with a trainable parameter, and each trainable non-projection parameter. Nothing when `copy` is
    /// the policy itself.
    static func copyTrainedWeights(from policy: CausalLM, into copy: CausalLM) throws {
        guard copy !== policy else { return }
        for slot in policy.linearSlotNames {
            guard let layer = policy.linear(named: slot), layer.parameters.contains(where: { $0.parameter.trainable }) else { continue }
            guard let target = copy.linear(named: slot) as? DenseLinear else {
                throw TrainingError.invalidOption(option: "rollout engine", value: slot, reason: "the rollout copy holds no dense layer there")
            }
            target.weight.value = try layer.denseWeight()
            if let bias = layer.denseBias { target.bias?.value = bias }
        }
        let copies = Dictionary(copy.otherParameters.map { ($0.name, $0.parameter) }, uniquingKeysWith: { a, _ in a })
        for (name, p) in policy.otherParameters where p.trainable { copies[name]?.value = p.value }
        if !policy.config.tieWordEmbeddings, policy.lmHead.trainable { copy.lmHead.value = policy.lmHead.value }
    }
}
