import Foundation
import FuRAModels
import FuRATensor

extension Benchmarks {
    /// SmolLM2 generation: batch-1 greedy decode (128-token prompt, 128 new tokens) and 64 sampled
    /// sequences (T = 1, 128 new tokens, EOS ignored so every sequence runs to the limit), for each
    /// weight precision (f32, bf16, q8, the GGUF file's blocks), with 2 threads. Rates count new tokens over wall time including prefill;
    /// `cpu_per_token_ms` is process CPU time per new token (what a loaded machine cannot hide).
    static let generate = Benchmark(name: "generate") {
        guard let path = modelPath(for: "generate", variable: "FURA_TEST_MODEL"), let loaded = try? ModelLoader.load(path: path) else {
            return []
        }
        Threading.setThreadCount(2)
        let vocabulary = loaded.config.vocabSize
        var rng = RNG(seed: 3)
        let prompt = (0..<128).map { _ in rng.int(below: vocabulary) }
        let prompts = (0..<8).map { g in (0..<64).map { i in (g * 7919 + i * 131) % vocabulary } }
        var out: [BenchmarkResult] = []
        // FURA_BENCH_PRECISIONS=gguf,f32 limits the kinds measured.
        let wanted = environmentList("FURA_BENCH_PRECISIONS")
        // FURA_BENCH_GENERATE=sample (or greedy) runs only that part (e.g. to profile b=64 alone).
        let parts = environmentList("FURA_BENCH_GENERATE")
        let greedyWanted = parts?.contains("greedy") ?? true, sampleWanted = parts?.contains("sample") ?? true
        // llama-cpp (an exact emulation, not a fast path) only when asked for by name.
        for precision in GenerationWeightPrecision.allCases where wanted?.contains(precision.rawValue) ?? (precision != .llamaCpp) {
            guard let engine = try? GenerationModel(model: loaded.model, precision: precision, gguf: loaded.gguf) else { continue }
            let generator = Generator(model: engine)
            // FURA_BENCH_SHARE_PREFIX=0 copies repeated prompts' caches instead of sharing them (A/B runs).
            generator.sharePromptPrefix = ProcessInfo.processInfo.environment["FURA_BENCH_SHARE_PREFIX"] != "0"
            // FURA_BENCH_KV=f16 stores keys and values in f16 (the opt-in of Generator.keyValuePrecision).
            generator.keyValuePrecision = ProcessInfo.processInfo.environment["FURA_BENCH_KV"].flatMap(KVCache.Precision.init(rawValue:)) ?? .float32
            if greedyWanted {
                let (greedy, greedyCPU) = measure {
                    _ = try? generator.generate(prompts: [prompt], options: GenerationOptions(maxNewTokens: 128))
                }
                out.append(BenchmarkResult(name: "generate greedy b=1 \(precision.rawValue) 128+128", threads: 2, seconds: greedy,
                                           tokensPerSecond: 128 / greedy, extra: ["cpu_per_token_ms": greedyCPU / 128 * 1000, "weight_mb": Double(engine.weightBytes) / 1e6]))
                // Decode alone: the same run minus a prefill-only run (1 new token).
                let (prefill, prefillCPU) = measure {
                    _ = try? generator.generate(prompts: [prompt], options: GenerationOptions(maxNewTokens: 1))
                }
                out.append(BenchmarkResult(name: "generate greedy b=1 \(precision.rawValue) decode only", threads: 2,
                                           tokensPerSecond: 127 / max(1e-9, greedy - prefill),
                                           extra: ["cpu_per_token_ms": (greedyCPU - prefillCPU) / 127 * 1000]))
            }
            guard sampleWanted else { continue }
            // 64 sequences: 8 distinct 64-token prompts × 8 samples each (a GRPO-like group layout).
            let batch = (0..<64).map { prompts[$0 / 8] }
            let options = GenerationOptions(maxNewTokens: 128, sampling: SamplingOptions(temperature: 1), seed: 1)
            let (sampled, sampledCPU) = measure { _ = try? generator.generate(prompts: batch, options: options) }
            out.append(BenchmarkResult(name: "generate sample b=64 \(precision.rawValue) 64+128", threads: 2, seconds: sampled,
                                       tokensPerSecond: 64 * 128 / sampled, extra: ["cpu_per_token_ms": sampledCPU / (64 * 128) * 1000]))
        }
        return out
    }

    /// The packed-panel product y = x·Wᵀ against sgemm, on SmolLM2's fused gate/up shape (3072×576),
    /// for 1 and 64 rows of x, per storage kind; GFLOP/s from the best of 5 (2 threads).
    static let panel = Benchmark(name: "panel") {
        Threading.setThreadCount(2)
        var rng = RNG(seed: 1)
        let w = Tensor.randomNormal([3072, 576], std: 0.05, rng: &rng)
        var out: [BenchmarkResult] = []
        for n in [1, 64] {
            let x = Tensor.randomNormal([n, 576], rng: &rng)
            let flops = 2.0 * Double(n) * 3072 * 576
            let t = bestTime { _ = try? Tensor.matmul(x, w, transposeB: true) }
            out.append(BenchmarkResult(name: "panel sgemm n=\(n) 3072x576", threads: 2, gflops: flops / t / 1e9, seconds: t))
            let kinds: [PanelMatrix] = [try! PanelMatrix(w, storage: .float32), try! PanelMatrix(w, storage: .bfloat16), try! PanelMatrix.quantized8(w),
                                        try! PanelMatrix(w, storage: .bfloat16Dot),
                                        try! PanelMatrix(affineRows: 3072, columns: 576, bits: 4) { r, codes, scales, _ in
                                            for k in 0..<576 { codes[k] = Int8((r &* 7 &+ k) & 15) }
                                            for b in 0..<18 { scales[b] = 0.01 } }]
            for m in kinds {
                let t = bestTime { _ = try? m.multiply(x) }
                out.append(BenchmarkResult(name: "panel \(m.storage.rawValue) n=\(n) 3072x576", threads: 2, gflops: flops / t / 1e9, seconds: t,
                                           extra: ["gb_per_s": Double(m.byteCount) / t / 1e9]))
            }
        }
        return out
    }

    /// Wall seconds and process CPU seconds of one call of `body`.
    static func measure(_ body: () -> Void) -> (Double, Double) {
        let (c0, t0) = (cpuSeconds(), DispatchTime.now().uptimeNanoseconds)
        body()
        return (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpuSeconds() - c0)
    }
}
