import Foundation
import FuRA
import FuRAModels
import FuRANN
import FuRATensor
import FuRATrain

extension Benchmarks {
    /// GRPO rollouts through the shared generation engine: 8 prompts (52–66 ids, different lengths, packed
    /// prefill) × 8 completions (64 sequences) of 48 new tokens, on the SmolLM2-135M shape with random weights
    /// (the real file needs no network here but its weights do not change the cost). Reports generated tokens
    /// per second, prefill included.
    static let grpoRollout = Benchmark(name: "grpo-rollout") {
        let config = ModelConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9, numKeyValueHeads: 3,
                                 vocabSize: 49152, rmsNormEps: 1e-5, ropeTheta: 100_000, maxPositionEmbeddings: 2048, tieWordEmbeddings: true)
        guard let model = try? CausalLM.random(config: config, seed: 1), let engine = try? GenerationModel(model: model) else { return [] }
        var out: [BenchmarkResult] = []
        for threads in [1, 2] {
            Threading.setThreadCount(threads)
            // No stop ids: every sequence runs the full 48 tokens, so the count is exact.
            let rollout = GRPORollout(maxNewTokens: 48, temperature: 1, topP: 1, stopIds: [], maxBatch: 64)
            let prompts = (0..<8).map { p in (0..<(52 + 2 * p)).map { (p * 131 + $0 * 17) % 49152 } }
            let start = Date()
            guard let completions = try? rollout.sample(model: engine, prompts: prompts, copies: 8, seed: 3) else { return out }
            let seconds = Date().timeIntervalSince(start)
            let tokens = completions.reduce(0) { $0 + $1.ids.count }
            out.append(BenchmarkResult(name: "grpo rollout 64 seq x 48 tok (prompts 52-66)", threads: threads, seconds: seconds,
                                       tokensPerSecond: Double(tokens) / seconds))
        }
        return out
    }

    /// What a GRPO step spends before sampling: materializing every FuRA projection of a SmolLM2-shaped model to a
    /// dense weight (`GRPOTrainer.rolloutModel`) and packing those into the generation engine, per precision.
    static let grpoRebuild = Benchmark(name: "grpo-rebuild") {
        let config = ModelConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9, numKeyValueHeads: 3,
                                 vocabSize: 49152, rmsNormEps: 1e-5, ropeTheta: 100_000, maxPositionEmbeddings: 2048, tieWordEmbeddings: true)
        guard let model = try? CausalLM.random(config: config, seed: 1),
              (try? Conversion.convert(model, options: ConversionOptions(), measureReconstruction: false)) != nil else { return [] }
        Threading.setThreadCount(2)
        var out: [BenchmarkResult] = []
        var dense: [String: Tensor] = [:]
        let (materialize, materializeCPU) = measure {
            for slot in model.linearSlotNames { dense[slot + ".weight"] = try? model.linear(named: slot)?.denseWeight() }
        }
        out.append(BenchmarkResult(name: "grpo rebuild: dense weights of 210 FuRA projections", threads: 2, seconds: materialize,
                                   extra: ["cpu_seconds": materializeCPU]))
        for (name, p) in model.otherParameters { dense[name] = p.value }
        guard let rollout = try? CausalLM(config: config, source: "rollout weights", tensor: { dense[$0] }) else { return out }
        for precision in [GenerationWeightPrecision.float32, .bfloat16Compute] {
            var engine: GenerationModel?
            let (seconds, cpu) = measure { engine = try? GenerationModel(model: rollout, precision: precision) }
            out.append(BenchmarkResult(name: "grpo rebuild: pack the engine (\(precision.rawValue))", threads: 2, seconds: seconds,
                                       extra: ["cpu_seconds": cpu]))
            // What GRPO does after the first step: new weights written into the rollout copy's 210 projections, and
            // the same engine re-packed in place (GRPORolloutEngine; the tied head did not change).
            for slot in rollout.linearSlotNames { if let d = rollout.linear(named: slot) as? DenseLinear, let w = dense[slot + ".weight"] { d.weight.value = w } }
            let (refresh, refreshCPU) = measure { try? engine?.refreshWeights() }
            out.append(BenchmarkResult(name: "grpo rebuild: refresh the engine in place (\(precision.rawValue))", threads: 2, seconds: refresh,
                                       extra: ["cpu_seconds": refreshCPU]))
        }
        return out
    }
}
