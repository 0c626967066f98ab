import FuRA
import FuRANN
import FuRATensor

extension Benchmarks {
    /// QFuRA: the layer (NF4 frozen core, tiled dequantization) against BTT at N = 1024, 2 threads. The SmolLM2
    /// optimizer step of `--method qfura` is in the `step` benchmark (`FURA_BENCH_METHODS=qfura,fura`).
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
        return out
    }
}
