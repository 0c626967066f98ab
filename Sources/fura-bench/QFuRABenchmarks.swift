import Dispatch
import Foundation
import FuRA
import FuRAModels
import FuRANN
import FuRATensor
import FuRATrain

extension Benchmarks {
    /// QFuRA: the layer (NF4 frozen core, tiled dequantization) against BTT at N = 1024, and one optimizer step of
    /// `fura train --method qfura` work on SmolLM2-135M at batch 4 × 256 with every position a target (forward,
    /// backward, AdamW), 2 threads, next to the same step for fura. Peak RSS is the process high-water mark,
    /// reset before each model is loaded. Needs `FURA_BENCH_MODEL` or `cache/SmolLM2-135M-Instruct.Q4_1.gguf`.
    static let qfura = Benchmark(name: "qfura") {
        var out: [BenchmarkResult] = []
        Threading.setThreadCount(2)
        for (i, o) in [(576, 576), (576, 1536), (1536, 576)] {
            var rng = RNG(seed: 3)
            let w = Tensor.randomNormal([o, i], std: 0.05, rng: &rng)
            let x = Tensor.randomNormal([1024, i], rng: &rng)
            let g = Tensor.randomNormal([1024, o], rng: &rng)
            let btt = try! BTTLayer(converting: w, bias: nil)
            let q = try! QBTTLayer(quantizing: try! BTTLayer(converting: w, bias: nil))
            let bttTime = bestTime(repeats: 10) { _ = try! btt.forward(x, keepForBackward: true); _ = try! btt.backward(g) }
            let qTime = bestTime(repeats: 10) { _ = try! q.forward(x, keepForBackward: true); _ = try! q.backward(g) }
            out.append(BenchmarkResult(name: "qfura fwd+bwd \(i)→\(o) N=1024", threads: 2, seconds: qTime,
                                       extra: ["vs_btt": qTime / bttTime, "core_bytes_ratio": Double(q.core.byteCount) / Double(4 * q.core.count)]))
        }
        let path = ProcessInfo.processInfo.environment["FURA_BENCH_MODEL"] ?? "cache/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            print("qfura: step skipped (no model at \(path); set FURA_BENCH_MODEL)")
            return out
        }
        for method in [TrainMethod.qfura, .fura] {
            resetQFuRABenchPeakRSS()
            guard let loaded = try? ModelLoader.load(path: path) else { continue }
            let model = loaded.model, vocabulary = loaded.config.vocabSize
            let setupStart = DispatchTime.now().uptimeNanoseconds
            guard (try? TrainMethodSetup.apply(TrainConfig.defaults(method: method), to: model)) != nil else { continue }
            let setupSeconds = Double(DispatchTime.now().uptimeNanoseconds - setupStart) / 1e9
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
            step()
            var best = (wall: Double.infinity, cpu: 0.0)
            for _ in 0..<2 {
                let (w0, c0) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds())
                step()
                let wall = Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e9
                if wall < best.wall { best = (wall, cpuSeconds() - c0) }
            }
            let count = Double(batch * time)
            out.append(BenchmarkResult(
                name: "step \(method.rawValue) 4x256 all targets", threads: 2, seconds: best.wall, tokensPerSecond: count / best.wall,
                extra: ["cpu_s": best.cpu, "tokens_per_s_if_2_cores_free": 2 * count / best.cpu, "setup_s": setupSeconds,
                        "trainable_M": Double(trainable.reduce(0) { $0 + $1.parameter.count }) / 1e6,
                        "nf4_core_MB": Double(Conversion.quantizedCoreStorage(model).bytes) / 1e6,
                        "peak_rss_GB": Double(qfuraBenchPeakRSSBytes()) / 1e9]))
        }
        return out
    }
}

/// Resets the kernel's peak-RSS mark of this process (`/proc/self/clear_refs`, value 5).
private func resetQFuRABenchPeakRSS() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// The peak resident set size of this process since the last reset (`VmHWM`), in bytes.
private func qfuraBenchPeakRSSBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kilobytes * 1024
}
