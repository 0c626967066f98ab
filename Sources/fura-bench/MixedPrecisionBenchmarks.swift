import FuRA
import FuRATensor

extension Benchmarks {
    /// One FuRA layer (output_one_block, the default conversion) of SmolLM2's shapes at N = 1024 rows, 2 threads, at
    /// f32 and bf16: the forward alone, and forward + backward; beside them a frozen dense weight's two products on
    /// `TrainingPanels` (the same kernel, no BTT work), so the layer's overhead over its large products is visible.
    static let mixedPrecisionLayer = Benchmark(name: "bf16-layer") {
        var out: [BenchmarkResult] = []
        let tokens = 1024
        Threading.setThreadCount(2)
        for (i, o) in [(576, 576), (576, 1536), (1536, 576)] {
            var rng = RNG(seed: 3)
            let w = Tensor.randomNormal([o, i], std: 0.05, rng: &rng)
            let x = Tensor.randomNormal([tokens, i], rng: &rng)
            let g = Tensor.randomNormal([tokens, o], rng: &rng)
            let flops = 2 * Double(tokens) * Double(i) * Double(o)
            for precision in ComputePrecision.allCases {
                let layer = try! BTTLayer(converting: w, bias: nil)
                layer.configureTrainability(trainPosition: .small, trainBias: false, trainSingularValues: true)
                layer.computePrecision = precision
                let forward = bestTime(repeats: 8) { _ = try! layer.forward(x, keepForBackward: false) }
                let both = bestTime(repeats: 8) {
                    _ = try! layer.forward(x, keepForBackward: true)
                    _ = try! layer.backward(g)
                }
                let panels = try! TrainingPanels(w, precision: precision)
                let dense = bestTime(repeats: 8) { _ = try! panels.multiplyTransposed(x); _ = try! panels.multiply(g) }
                out.append(BenchmarkResult(name: "fura layer \(precision.rawValue) \(i)->\(o) N=\(tokens)", threads: 2,
                                           gflops: 2 * flops / both / 1e9, seconds: both,
                                           extra: ["forward_s": forward, "backward_s": both - forward,
                                                   "dense_panels_fwd_bwd_s": dense, "forward_gflops": flops / forward / 1e9]))
            }
        }
        return out
    }
}
