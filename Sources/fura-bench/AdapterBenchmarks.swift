import FuRA
import FuRANN
import FuRATensor

extension Benchmarks {
    /// The projection shapes (I → O) of SmolLM2-135M and a Llama-7B/8B-sized square one.
    static let adapterShapes = [(576, 576), (576, 1536), (1536, 576), (4096, 4096)]

    /// One forward + backward of a layer at N = 1024 rows: best-of time, tokens/s and effective GFLOP/s
    /// (counting the two base products 2·N·I·O each, as the dense layer's forward + dX).
    static func timeForwardBackward(_ layer: any LinearLayer, name: String, n: Int, threads: Int) -> BenchmarkResult {
        var rng = RNG(seed: 7)
        let x = Tensor.randomNormal([n, layer.inFeatures], rng: &rng)
        let dY = Tensor.randomNormal([n, layer.outFeatures], rng: &rng)
        let big = layer.inFeatures * layer.outFeatures > 1 << 22
        let t = bestTime(repeats: big ? 2 : 5) {
            _ = try! layer.forward(x, keepForBackward: true)
            _ = try! layer.backward(dY)
            for (_, p) in layer.parameters { p.zeroGradient() }
        }
        let flops = 4.0 * Double(n) * Double(layer.inFeatures) * Double(layer.outFeatures)
        return BenchmarkResult(name: name, threads: threads, gflops: flops / t / 1e9, seconds: t, tokensPerSecond: Double(n) / t)
    }

    static func adapterBenchmark(_ kind: String, make: @escaping (FrozenWeight, Int) throws -> any LinearLayer) -> Benchmark {
        Benchmark(name: kind) {
            var out: [BenchmarkResult] = []
            Threading.setThreadCount(2)
            for (i, o) in adapterShapes {
                var rng = RNG(seed: 3)
                let w = Tensor.randomNormal([o, i], std: 0.02, rng: &rng)
                let formats: [FrozenWeightFormat] = [.float32, .nf4DoubleQuant]
                for format in formats {
                    let base = try! FrozenWeight(w, format: format)
                    let layer = try! make(base, 32)
                    out.append(timeForwardBackward(layer, name: "\(kind) r=32 \(format.rawValue) \(i)->\(o) N=1024", n: 1024, threads: 2))
                }
            }
            return out
        }
    }

    /// LoRA r = 32, forward + backward, over f32 and NF4 (QLoRA) bases.
    static let lora = adapterBenchmark("lora") { base, r in
        try LoRALinear(base: base, options: LoRAOptions(rank: r, alpha: Float(2 * r), dropout: 0.05), seed: 1)
    }

    /// DoRA r = 32 (PEFT formula, norm every forward), forward + backward, over f32 and NF4 (QDoRA) bases.
    static let dora = adapterBenchmark("dora") { base, r in
        try DoRALinear(base: base, options: DoRAOptions(lora: LoRAOptions(rank: r, alpha: Float(2 * r), dropout: 0.05)), seed: 1)
    }

    /// The frozen product y = x·Wᵀ at N = 1024 for each storage, its dX product, quantization and full dequantization.
    static let nf4 = Benchmark(name: "nf4") {
        var out: [BenchmarkResult] = []
        Threading.setThreadCount(2)
        let n = 1024
        for (i, o) in [(576, 1536), (4096, 4096)] {
            var rng = RNG(seed: 5)
            let w = Tensor.randomNormal([o, i], std: 0.02, rng: &rng)
            let x = Tensor.randomNormal([n, i], rng: &rng)
            let dY = Tensor.randomNormal([n, o], rng: &rng)
            let flops = 2.0 * Double(n) * Double(i) * Double(o)
            let repeats = o * i > 1 << 22 ? 3 : 8
            for format in FrozenWeightFormat.allCases {
                let frozen = try! FrozenWeight(w, format: format)
                let tf = bestTime(repeats: repeats) { _ = try! frozen.multiplyTransposed(x) }
                let tb = bestTime(repeats: repeats) { _ = try! frozen.multiply(dY) }
                out.append(BenchmarkResult(name: "frozen x·Wᵀ \(format.rawValue) \(i)->\(o) N=\(n)", threads: 2, gflops: flops / tf / 1e9,
                                           seconds: tf, extra: ["bytes_per_param": Double(frozen.byteCount) / Double(o * i)]))
                out.append(BenchmarkResult(name: "frozen dY·W  \(format.rawValue) \(i)->\(o) N=\(n)", threads: 2, gflops: flops / tb / 1e9, seconds: tb))
            }
            let tq = bestTime(repeats: 3) { _ = try! NF4.quantize(w, doubleQuantization: true) }
            let q = try! NF4.quantize(w, doubleQuantization: true)
            let td = bestTime(repeats: 3) { _ = q.dequantized() }
            out.append(BenchmarkResult(name: "nf4 quantize+dq \(i)x\(o)", threads: 2, seconds: tq, extra: ["Mparam_per_s": Double(o * i) / tq / 1e6]))
            out.append(BenchmarkResult(name: "nf4 dequantize  \(i)x\(o)", threads: 2, seconds: td, extra: ["Mparam_per_s": Double(o * i) / td / 1e6]))
        }
        return out
    }
}
