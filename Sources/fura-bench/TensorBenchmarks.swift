import CBLAS
import FuRATensor

extension Benchmarks {
    /// sgemm through the Tensor API and straight through cblas, with 1 and 2 threads.
    static let gemm = Benchmark(name: "sgemm") {
        let shapes = [(1024, 576, 576), (1024, 1536, 576), (1024, 576, 1536), (2048, 2048, 2048)]
        var out: [BenchmarkResult] = []
        for threads in [1, 2] {
            Threading.setThreadCount(threads)
            for (m, n, k) in shapes {
                var rng = RNG(seed: 1)
                let a = Tensor.randomNormal([m, k], rng: &rng)
                let b = Tensor.randomNormal([k, n], rng: &rng)
                var c = Tensor.zeros([m, n])
                let flops = 2.0 * Double(m) * Double(n) * Double(k)
                let repeats = m * n * k > 1 << 30 ? 3 : 10
                let tensorTime = bestTime(repeats: repeats) {
                    try! Tensor.matmul(a, b, into: &c, accumulate: false)
                }
                var raw = [Float](repeating: 0, count: m * n)
                // OpenBLAS's own threading, for comparison with our slicing (Threading keeps it at 1).
                openblas_set_num_threads(Int32(threads))
                defer { openblas_set_num_threads(1) }
                let cblasTime = bestTime(repeats: repeats) {
                    // SAFETY: a is m×k, b is k×n, raw is m×n, all row-major and contiguous.
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                                a.storage, Int32(k), b.storage, Int32(n), 0, &raw, Int32(n))
                }
                out.append(BenchmarkResult(name: "sgemm tensor \(m)x\(n)x\(k)", threads: threads, gflops: flops / tensorTime / 1e9))
                out.append(BenchmarkResult(name: "sgemm cblas  \(m)x\(n)x\(k)", threads: threads, gflops: flops / cblasTime / 1e9))
            }
        }
        return out
    }

    /// Thin SVD of the block shapes FuRA factors.
    static let svd = Benchmark(name: "svd") {
        var out: [BenchmarkResult] = []
        for threads in [1, 2] {
            Threading.setThreadCount(threads)
            for (m, n) in [(1536, 48), (576, 576)] {
                var rng = RNG(seed: 2)
                let a = Tensor.randomNormal([m, n], rng: &rng)
                for precision in [FactorizationPrecision.float, .double] {
                    let t = bestTime(repeats: 3) { _ = try! LAPACK.svd(a, precision: precision) }
                    out.append(BenchmarkResult(name: "svd \(precision.rawValue) \(m)x\(n)", threads: threads, seconds: t))
                }
            }
        }
        return out
    }
}
