import Foundation
import FuRAModels
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
}
