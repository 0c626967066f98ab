import CBLAS
import Foundation
import FuRAModels
import FuRATensor
import FuRATrain

extension Benchmarks {
    /// One optimizer step of `fura train`'s work on SmolLM2-135M at batch 4 × 256 with every position a
    /// target, 2 threads: forward, backward, AdamW, for each method of `FURA_BENCH_METHODS`
    /// (default `fura,lora,full,qfura`; method defaults as `fura train` resolves them) at each precision of
    /// `FURA_BENCH_TRAIN_PRECISIONS` (default `f32,bf16`). Peak RSS is the
    /// process high-water mark, reset before each method's model is loaded.
    static let methodStep = Benchmark(name: "step") {
        guard let path = modelPath(for: "step") else { return [] }
        let methods = (ProcessInfo.processInfo.environment["FURA_BENCH_METHODS"] ?? "fura,lora,full,qfura")
            .split(separator: ",").compactMap { TrainMethod(rawValue: String($0)) }
        let precisions = (ProcessInfo.processInfo.environment["FURA_BENCH_TRAIN_PRECISIONS"] ?? "f32,bf16")
            .split(separator: ",").compactMap { ComputePrecision(rawValue: String($0)) }
        Threading.setThreadCount(2)
        var out: [BenchmarkResult] = []
        for method in methods {
          for precision in precisions {
            resetPeakRSS()
            guard let loaded = try? ModelLoader.load(path: path) else { continue }
            let model = loaded.model, vocabulary = loaded.config.vocabSize
            var config = TrainConfig.defaults(method: method)
            config.loraDropout = 0
            guard (try? TrainMethodSetup.apply(config, to: model)) != nil else {
                print("step: \(method.rawValue) could not be set up")
                continue
            }
            model.computePrecision = precision   // TrainMethodSetup.apply has returned the setup's freed pages
            let setupRSS = currentRSSBytes()
            let (batch, time) = (4, 256)
            var rng = RNG(seed: 7)
            let ids = (0..<batch).map { _ in (0..<time).map { _ in rng.int(below: vocabulary) } }
            let labels = ids.map { Array($0.dropFirst()) + [rng.int(below: vocabulary)] }
            let tokens = TokenBatch(ids: ids, labels: labels, lengths: Array(repeating: time, count: batch))
            let trainable = model.namedParameters.filter { $0.1.trainable }.map { (name: $0.0, parameter: $0.1) }
            var optimizer = AdamW(options: .init(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0))
            func step() {
                for p in trainable { p.parameter.zeroGradient() }
                _ = try! model.accumulateGradients(tokens, lossScale: 1 / Float(batch * time))
                try! optimizer.step(trainable, learningRate: 1e-5)
            }
            let best = bestWallAndCPU(repeats: 2, step)
            let count = Double(batch * time)
            // Matrix FLOPs of the step: forward and dX of the projections, attention and LM head; a full
            // fine-tune adds dW of every projection and of the (tied) embedding/head. Adapter factors are
            // left out (a few percent), so the rate is a lower bound.
            let c = loaded.config
            let linear = Double(c.numHiddenLayers) * Double(c.hiddenSize) *
                Double(2 * c.numAttentionHeads * c.headDim + 2 * c.numKeyValueHeads * c.headDim + 3 * c.intermediateSize)
            let attention = Double(c.numHiddenLayers) * 4 * Double(c.numAttentionHeads * c.headDim * time)
            let head = 2 * Double(c.hiddenSize * c.vocabSize)
            let perToken = 2 * (2 * linear + attention + head) + (method == .full ? 2 * linear + head : 0)
            let flops = perToken * count
            out.append(BenchmarkResult(
                name: "step \(method.rawValue) \(precision.rawValue) 4x256 all targets", threads: 2, gflops: flops / best.wall / 1e9,
                seconds: best.wall, tokensPerSecond: count / best.wall,
                extra: ["cpu_s": best.cpu, "gflop_per_cpu_s": flops / best.cpu / 1e9, "tokens_per_s_if_2_cores_free": 2 * count / best.cpu,
                        "trainable_M": Double(trainable.reduce(0) { $0 + $1.parameter.count }) / 1e6,
                        "peak_rss_GB": Double(peakRSSBytes()) / 1e9, "rss_after_setup_GB": Double(setupRSS) / 1e9]))
          }
        }
        return out
    }
}

/// Returns freed heap memory to the kernel and resets the peak-RSS mark of this process
/// (`/proc/self/clear_refs`, value 5), so the next measurement starts from what is live now.
func resetPeakRSS() {
    Allocator.releaseFreePages()
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// The peak resident set size of this process since the last reset (`VmHWM`), in bytes.
func peakRSSBytes() -> Int { statusBytes("VmHWM:") }

/// The resident set size of this process now (`VmRSS`), in bytes.
func currentRSSBytes() -> Int { statusBytes("VmRSS:") }

/// A kB line of /proc/self/status, in bytes (0 when it cannot be read).
private func statusBytes(_ key: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
          let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kilobytes * 1024
}
