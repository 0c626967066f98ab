import Dispatch
import Foundation
import FuRA
import FuRANN
import FuRATensor

/// A bare stack of dense projections with SmolLM2-135M's names and shapes, for the conversion benchmark.
final class BenchProjectionHost: LinearHost {
    var slots: [String: any LinearLayer] = [:]
    var linearSlotNames: [String] = []
    let headShape: HeadShape? = HeadShape(numHeads: 9, numKeyValueHeads: 3, headDim: 64)
    let otherParameters: [(name: String, parameter: Parameter)] = []

    /// A fresh host over the same dense layers as `other` (the conversion replaces slots, never the layers).
    init(sharingLayersOf other: BenchProjectionHost) {
        slots = other.slots
        linearSlotNames = other.linearSlotNames
    }

    init(layers: Int) {
        var rng = RNG(seed: 11)
        let shapes = [("self_attn.q_proj", 576, 576), ("self_attn.k_proj", 192, 576), ("self_attn.v_proj", 192, 576),
                      ("self_attn.o_proj", 576, 576), ("mlp.gate_proj", 1536, 576), ("mlp.up_proj", 1536, 576),
                      ("mlp.down_proj", 576, 1536)]
        for l in 0..<layers {
            for (name, o, i) in shapes {
                let slot = "model.layers.\(l).\(name)"
                slots[slot] = try! DenseLinear(weight: Tensor.randomNormal([o, i], std: 0.05, rng: &rng))
                linearSlotNames.append(slot)
            }
        }
    }

    func linear(named name: String) -> (any LinearLayer)? { slots[name] }
    func setLinear(_ layer: any LinearLayer, named name: String) throws { slots[name] = layer }
}

extension Benchmarks {
    /// BTT (FuRA default) forward+backward against a frozen dense layer and a LoRA r=32 layer at N = 1024 tokens,
    /// and the time to convert SmolLM2-135M's 210 projections.
    static let btt = Benchmark(name: "btt") { bttLayerSpeed() + convertSmolLM2() }

    /// The layer part of `btt` alone (`fura-bench --filter layer-speed`).
    static let bttLayer = Benchmark(name: "layer-speed") { bttLayerSpeed() }

    /// `FURA_BENCH_SHAPES=576x576,4096x4096` (in×out) restricts the shapes, `FURA_BENCH_REPEATS=k` sets the best-of count.
    static func bttLayerSpeed() -> [BenchmarkResult] {
        var out: [BenchmarkResult] = []
        let tokens = 1024
        let shapes = environmentList("FURA_BENCH_SHAPES")
        let repeatsOverride = ProcessInfo.processInfo.environment["FURA_BENCH_REPEATS"].flatMap { Int($0) }
        for threads in [2, 1] {
            Threading.setThreadCount(threads)
            for (i, o) in [(576, 576), (576, 1536), (1536, 576), (4096, 4096)] where shapes?.contains("\(i)x\(o)") ?? true {
                var rng = RNG(seed: 3)
                let w = Tensor.randomNormal([o, i], std: 0.05, rng: &rng)
                let x = Tensor.randomNormal([tokens, i], rng: &rng)
                let g = Tensor.randomNormal([tokens, o], rng: &rng)
                let repeats = repeatsOverride ?? (i * o > 4_000_000 ? 3 : 10)
                let dense = try! DenseLinear(weight: w)
                let denseTime = bestTime(repeats: repeats) {
                    _ = try! dense.forward(x, keepForBackward: true)
                    _ = try! dense.backward(g)
                }
                let btt = try! BTTLayer(converting: w, bias: nil)
                let bttTime = bestTime(repeats: repeats) {
                    _ = try! btt.forward(x, keepForBackward: true)
                    _ = try! btt.backward(g)
                }
                // The same layer with one sgemm per block (the twin of the packed kernels), for a before/after.
                let twin = try! BTTLayer(converting: w, bias: nil)
                twin.blockProducts = .blas
                let twinTime = bestTime(repeats: repeats) {
                    _ = try! twin.forward(x, keepForBackward: true)
                    _ = try! twin.backward(g)
                }
                let bttForward = bestTime(repeats: repeats) { _ = try! btt.forward(x, keepForBackward: false) }
                let denseForward = bestTime(repeats: repeats) { _ = try! dense.forward(x, keepForBackward: false) }
                let lora = MinimalLoRA(weight: w, rank: 32, rng: &rng)
                let loraTime = bestTime(repeats: repeats) { lora.forwardBackward(x, g) }
                // Thread CPU time (1 thread only): unaffected by other processes sharing the cores.
                var cpu: [String: Double] = [:]
                if threads == 1 {
                    let d = bestThreadCPUTime(repeats: repeats) { _ = try! dense.forward(x, keepForBackward: true); _ = try! dense.backward(g) }
                    let b = bestThreadCPUTime(repeats: repeats) { _ = try! btt.forward(x, keepForBackward: true); _ = try! btt.backward(g) }
                    let l = bestThreadCPUTime(repeats: repeats) { lora.forwardBackward(x, g) }
                    let t = bestThreadCPUTime(repeats: repeats) { _ = try! twin.forward(x, keepForBackward: true); _ = try! twin.backward(g) }
                    // A frozen dense layer on the same packed-panel kernel as the BTT's large products (W and Wᵀ packed
                    // once): the ratio with the GEMM engine held equal (DenseLinear itself runs sgemm).
                    let forwardPanels = try! PanelMatrix(w, storage: .float32), backwardPanels = try! PanelMatrix(transposed: w)
                    let p = bestThreadCPUTime(repeats: repeats) { _ = try! forwardPanels.multiply(x); _ = try! backwardPanels.multiply(g) }
                    cpu = ["cpu_vs_dense": b / d, "cpu_vs_lora32": b / l, "cpu_btt_s": b, "cpu_sgemm_blocks_vs_dense": t / d,
                           "cpu_vs_dense_on_panels": b / p]
                }
                let shape = "\(i)→\(o)"
                out.append(BenchmarkResult(name: "btt fwd+bwd \(shape) N=\(tokens)", threads: threads, seconds: bttTime,
                                           extra: ["vs_dense": bttTime / denseTime, "vs_lora32": bttTime / loraTime,
                                                   "sgemm_blocks_vs_dense": twinTime / denseTime,
                                                   "fwd_vs_dense": bttForward / denseForward].merging(cpu) { $1 }))
                out.append(BenchmarkResult(name: "dense frozen fwd+bwd \(shape)", threads: threads, seconds: denseTime))
                out.append(BenchmarkResult(name: "lora r32 fwd+bwd \(shape)", threads: threads, seconds: loraTime))
            }
        }
        return out
    }

    /// Time (wall and CPU) to convert SmolLM2-135M's 210 projections with the default options.
    /// `FURA_BENCH_CONVERT_REPEATS=k` runs k − 1 untimed conversions first (warm-up, or to make a profile conversion-heavy).
    static let bttConvert = Benchmark(name: "smollm2-convert") { convertSmolLM2() }

    static func convertSmolLM2() -> [BenchmarkResult] {
        var out: [BenchmarkResult] = []
        let source = BenchProjectionHost(layers: 30)
        let repeats = Int(ProcessInfo.processInfo.environment["FURA_BENCH_CONVERT_REPEATS"] ?? "") ?? 1
        for threads in [2, 1] {
            Threading.setThreadCount(threads)
            for _ in 1..<max(1, repeats) {
                _ = try! Conversion.convert(BenchProjectionHost(sharingLayersOf: source), options: ConversionOptions(),
                                            measureReconstruction: false)
            }
            let host = BenchProjectionHost(sharingLayersOf: source)
            let cpuStart = cpuSeconds()
            let start = DispatchTime.now().uptimeNanoseconds
            let report = try! Conversion.convert(host, options: ConversionOptions(), measureReconstruction: false)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let cpu = cpuSeconds() - cpuStart
            let check = BenchProjectionHost(layers: 1)
            let checked = try! Conversion.convert(check, options: ConversionOptions(), measureReconstruction: true)
            out.append(BenchmarkResult(name: "btt convert SmolLM2-135M (\(report.modules.count) projections)", threads: threads,
                                       seconds: seconds, extra: ["max_rel_error_layer0": checked.maxReconstructionError ?? -1, "cpu_seconds": cpu]))
        }
        return out
    }
}

/// y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with W frozen, A (r, I) and B (O, r) trainable: the LoRA cost model for timing only.
final class MinimalLoRA {
    let w: Tensor, scale: Float
    var a: Tensor, b: Tensor, dA: Tensor, dB: Tensor

    init(weight: Tensor, rank: Int, rng: inout RNG) {
        w = weight
        scale = 2
        a = Tensor.randomNormal([rank, weight.shape[1]], std: 0.01, rng: &rng)
        b = Tensor.randomNormal([weight.shape[0], rank], std: 0.01, rng: &rng)
        dA = Tensor.zeros(a.shape)
        dB = Tensor.zeros(b.shape)
    }

    /// One forward (keeping x and h) and one backward (dX, dA, dB). x (N, I), g (N, O).
    func forwardBackward(_ x: Tensor, _ g: Tensor) {
        var y = try! Tensor.matmul(x, w, transposeB: true)
        let h = try! Tensor.matmul(x, a, transposeB: true)
        try! Tensor.matmul(h, b, transposeB: true, into: &y, accumulate: true, alpha: scale)
        try! Tensor.matmul(g, h, transposeA: true, into: &dB, accumulate: true, alpha: scale)
        var dh = try! Tensor.matmul(g, b)
        dh.scale(by: scale)
        try! Tensor.matmul(dh, x, transposeA: true, into: &dA, accumulate: true)
        var dX = try! Tensor.matmul(g, w)
        try! Tensor.matmul(dh, a, into: &dX, accumulate: true)
        _ = (y, dX)
    }
}

extension Benchmarks {
    /// CPU time of one thin SVD of FuRA's SmolLM2 block shapes, in double and float.
    static let bttBlockSVD = Benchmark(name: "block-svd") {
        Threading.setThreadCount(1)
        var out: [BenchmarkResult] = []
        var rng = RNG(seed: 5)
        for (a, b) in [(1536, 24), (576, 24), (192, 24), (576, 64), (576, 48), (48, 576)] {
            let block = Tensor.randomNormal([a, b], rng: &rng)
            for precision in [FactorizationPrecision.double, .float] {
                let reps = 200
                let start = cpuSeconds()
                for _ in 0..<reps { _ = try! LAPACK.svd(block, precision: precision) }
                out.append(BenchmarkResult(name: "block svd \(precision.rawValue) \(a)x\(b)", threads: 1,
                                           seconds: (cpuSeconds() - start) / Double(reps)))
            }
            // The conversion's paths: the reused dgesdd workspace and Cholesky-QR2 (tall blocks).
            let reps = 200
            let general = try! SVDWorkspace(rows: a, columns: b)
            var start = cpuSeconds()
            for _ in 0..<reps {
                try! general.factor { col in for p in 0..<a { for q in 0..<b { col[p + q * a] = Double(block.storage[p * b + q]) } } }
            }
            out.append(BenchmarkResult(name: "block svd workspace dgesdd \(a)x\(b)", threads: 1,
                                       seconds: (cpuSeconds() - start) / Double(reps)))
            if a >= b {
                let tall = try! TallSVDWorkspace(rows: a, columns: b)
                start = cpuSeconds()
                for _ in 0..<reps {
                    try! tall.factor { row in for i in 0..<(a * b) { row[i] = Double(block.storage[i]) } }
                }
                out.append(BenchmarkResult(name: "block svd workspace gram \(a)x\(b)", threads: 1,
                                           seconds: (cpuSeconds() - start) / Double(reps)))
                let small = Tensor.randomNormal([b, b], rng: &rng)
                start = cpuSeconds()
                for _ in 0..<reps { _ = try! LAPACK.svd(small, precision: .double) }
                out.append(BenchmarkResult(name: "block svd double \(b)x\(b) (the N×N part)", threads: 1,
                                           seconds: (cpuSeconds() - start) / Double(reps)))
            }
        }
        return out
    }
}

/// Best-of-`repeats` CPU time of the calling thread for `body`, after one warm-up call.
func bestThreadCPUTime(repeats: Int, _ body: () -> Void) -> Double {
    func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
    body()
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = now()
        body()
        best = min(best, now() - start)
    }
    return best
}
