import Foundation
import FuRAModels
import FuRATensor

extension Benchmarks {
    /// SmolLM2 generation: batch-1 greedy decode (128-token prompt, 128 new tokens) and 64 sampled
    /// sequences (T = 1, 128 new tokens, EOS ignored so every sequence runs to the limit), in f32
    /// and bf16 weights, with 2 threads. Rates count new tokens over wall time including prefill;
    /// `cpu_per_token_ms` is process CPU time per new token (what a loaded machine cannot hide).
    static let generate = Benchmark(name: "generate") {
        let path = ProcessInfo.processInfo.environment["FURA_TEST_MODEL"] ?? "cache/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path), let loaded = try? ModelLoader.load(path: path) else {
            print("generate: skipped (no model at \(path); set FURA_TEST_MODEL)")
            return []
        }
        Threading.setThreadCount(2)
        let vocabulary = loaded.config.vocabSize
        var rng = RNG(seed: 3)
        let prompt = (0..<128).map { _ in rng.int(below: vocabulary) }
        let prompts = (0..<8).map { g in (0..<64).map { i in (g * 7919 + i * 131) % vocabulary } }
        var out: [BenchmarkResult] = []
        for precision in GenerationWeightPrecision.allCases {
            guard let engine = try? GenerationModel(model: loaded.model, precision: precision) else { continue }
            let generator = Generator(model: engine)
            let (greedy, greedyCPU) = measure {
                _ = try? generator.generate(prompts: [prompt], options: GenerationOptions(maxNewTokens: 128))
            }
            out.append(BenchmarkResult(name: "generate greedy b=1 \(precision.rawValue) 128+128", threads: 2, seconds: greedy,
                                       tokensPerSecond: 128 / greedy, extra: ["cpu_per_token_ms": greedyCPU / 128 * 1000]))
            // Decode alone: the same run minus a prefill-only run (1 new token).
            let (prefill, _) = measure {
                _ = try? generator.generate(prompts: [prompt], options: GenerationOptions(maxNewTokens: 1))
            }
            out.append(BenchmarkResult(name: "generate greedy b=1 \(precision.rawValue) decode only", threads: 2,
                                       tokensPerSecond: 127 / max(1e-9, greedy - prefill)))
            // 64 sequences: 8 distinct 64-token prompts × 8 samples each (a GRPO-like group layout).
            let batch = (0..<64).map { prompts[$0 / 8] }
            let options = GenerationOptions(maxNewTokens: 128, sampling: SamplingOptions(temperature: 1), seed: 1)
            let (sampled, sampledCPU) = measure { _ = try? generator.generate(prompts: batch, options: options) }
            out.append(BenchmarkResult(name: "generate sample b=64 \(precision.rawValue) 64+128", threads: 2, seconds: sampled,
                                       tokensPerSecond: 64 * 128 / sampled, extra: ["cpu_per_token_ms": sampledCPU / (64 * 128) * 1000]))
        }
        return out
    }

    /// Wall seconds and process CPU seconds of one call of `body`.
    static func measure(_ body: () -> Void) -> (Double, Double) {
        func cpu() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        }
        let (c0, t0) = (cpu(), DispatchTime.now().uptimeNanoseconds)
        body()
        return (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu() - c0)
    }
}
