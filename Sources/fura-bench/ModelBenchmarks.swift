import Foundation
import FuRAModels
import FuRATensor

extension Benchmarks {
    /// SmolLM2-135M at 4×256 tokens: forward (logits at the last position / at all positions) and
    /// training forward+backward with every position a target (frozen base: dX only; full: every
    /// weight trains), with 2 threads. Needs `FURA_BENCH_MODEL` or `cache/SmolLM2-135M-Instruct.Q4_1.gguf`.
    static let model = Benchmark(name: "model") {
        guard let path = modelPath(for: "model"), let loaded = try? ModelLoader.load(path: path) else { return [] }
        let lm = loaded.model, c = loaded.config
        Threading.setThreadCount(2)
        let (batch, time) = (4, 256)
        var rng = RNG(seed: 1)
        let ids = (0..<batch).map { _ in (0..<time).map { _ in rng.int(below: c.vocabSize) } }
        let labels = ids.map { Array($0.dropFirst()) + [rng.int(below: c.vocabSize)] }
        let tokens = batch * time
        let tokenBatch = TokenBatch(ids: ids, labels: labels, lengths: Array(repeating: time, count: batch))
        // Matrix FLOPs per token of one forward: the projections, attention (full T×T squares as computed), LM head.
        let linear = Double(c.numHiddenLayers) * Double(c.hiddenSize) *
            Double(2 * c.numAttentionHeads * c.headDim + 2 * c.numKeyValueHeads * c.headDim + 3 * c.intermediateSize)
        let attention = Double(c.numHiddenLayers) * 4 * Double(c.numAttentionHeads * c.headDim * time)
        let head = 2 * Double(c.hiddenSize * c.vocabSize)
        func result(_ name: String, _ time: (wall: Double, cpu: Double), _ flopsPerToken: Double, _ headRows: Double) -> BenchmarkResult {
            let flops = (2 * linear + attention) * Double(tokens) * flopsPerToken + head * headRows * flopsPerToken
            return BenchmarkResult(name: name, threads: 2, gflops: flops / time.wall / 1e9, seconds: time.wall,
                                   tokensPerSecond: Double(tokens) / time.wall,
                                   extra: ["cpu_s": time.cpu, "gflop_per_cpu_s": flops / time.cpu / 1e9,
                                           "tokens_per_s_if_2_cores_free": 2 * Double(tokens) / time.cpu])
        }
        var out: [BenchmarkResult] = []
        let last = bestWallAndCPU(repeats: 2) { _ = try! lm.logits(for: ids) }
        out.append(result("model forward 4x256 logits last", last, 1, Double(batch) / Double(tokens)))
        let all = bestWallAndCPU(repeats: 1) { _ = try! lm.logits(for: ids, allPositions: true) }
        out.append(result("model forward 4x256 logits all", all, 1, 1))
        let frozen = bestWallAndCPU(repeats: 1) { _ = try! lm.accumulateGradients(tokenBatch, lossScale: 1 / Float(tokens)) }
        // Backward with frozen weights: dX only, about one more forward's worth of matrix work.
        out.append(result("model train 4x256 frozen (dX only)", frozen, 2, 1))
        lm.gradientCheckpointing = true
        let checkpointed = bestWallAndCPU(repeats: 1) { _ = try! lm.accumulateGradients(tokenBatch, lossScale: 1 / Float(tokens)) }
        out.append(result("model train 4x256 frozen checkpointed", checkpointed, 3, 1))
        lm.gradientCheckpointing = false
        for (_, p) in lm.namedParameters { p.trainable = true }
        let full = bestWallAndCPU(repeats: 1) { _ = try! lm.accumulateGradients(tokenBatch, lossScale: 1 / Float(tokens)) }
        out.append(result("model train 4x256 full (dX + dW)", full, 3, 1))
        return out
    }
}

extension Benchmarks {
    /// The forward of `model` (4×256 tokens, logits at the last position) through the inference engine
    /// (packed weights, per-slot KV cache: what `fura eval` and `fura generate` run), per weight
    /// precision (`FURA_BENCH_PRECISIONS=f32,bf16-compute` limits them), 2 threads; best of 2 after a warm-up.
    static let engine = Benchmark(name: "engine") {
        guard let path = modelPath(for: "engine"), let loaded = try? ModelLoader.load(path: path) else { return [] }
        Threading.setThreadCount(2)
        let (batch, time) = (4, 256)
        var rng = RNG(seed: 1)
        let ids = (0..<batch).map { _ in (0..<time).map { _ in rng.int(below: loaded.config.vocabSize) } }
        let wanted = environmentList("FURA_BENCH_PRECISIONS")
        var out: [BenchmarkResult] = []
        // llama-cpp (an exact emulation, not a fast path) only when asked for by name.
        for precision in GenerationWeightPrecision.allCases where wanted?.contains(precision.rawValue) ?? (precision != .llamaCpp) {
            guard let engine = try? GenerationModel(model: loaded.model, precision: precision, gguf: loaded.gguf),
                  let cache = try? engine.makeCache(slots: batch, capacity: time) else { continue }
            func run() { cache.reset(); _ = try! engine.step(cache: cache, slots: Array(0..<batch), tokens: ids) }
            let best = bestWallAndCPU(repeats: 2, run)
            let tokens = Double(batch * time)
            out.append(BenchmarkResult(name: "engine forward 4x256 logits last \(precision.rawValue)", threads: 2, seconds: best.wall,
                                       tokensPerSecond: tokens / best.wall,
                                       extra: ["cpu_s": best.cpu, "tokens_per_s_if_2_cores_free": 2 * tokens / best.cpu]))
        }
        return out
    }
}
