import FuRATensor

extension Benchmarks {
    /// Batch-1 products on Qwen2.5-1.5B's largest shapes as `--precision gguf` holds a Q4_K_M file: the fused
    /// gate/up (17920×1536) in Q4_K's super-block form, the down projection (1536×8960) in Q6_K's (8-bit, blocks of
    /// 16), and the same down weights in f32 (what streaming memory allows). GB/s of weights read, best of 5,
    /// 1 and 2 threads.
    static let panelKQuant = Benchmark(name: "panel-kquant") {
        var rng = RNG(seed: 5)
        func superBlocks(_ rows: Int, _ columns: Int, bits: Int, blockSize: Int) -> PanelMatrix {
            try! PanelMatrix(superBlockRows: rows, columns: columns, bits: bits, blockSize: blockSize, blocksPerSuperBlock: 256 / blockSize) { r, row in
                for k in 0..<columns { row.codes[k] = Int8(bits == 4 ? (r &* 7 &+ k) & 15 : ((r &* 7 &+ k) & 63) - 32) }
                for b in 0..<(columns / blockSize) { row.scaleCodes[b] = Int8((r + b) % 60 + 1); row.offsetCodes[b] = bits == 4 ? Int8((r + 3 * b) % 60) : 0 }
                for f in 0..<(columns / 256) { row.superScales[f] = 1e-3; row.superOffsets[f] = bits == 4 ? 5e-4 : 0 }
            }
        }
        let cases: [(String, PanelMatrix)] = [
            ("q4_K 17920x1536", superBlocks(17920, 1536, bits: 4, blockSize: 32)),
            ("q6_K 1536x8960", superBlocks(1536, 8960, bits: 8, blockSize: 16)),
            ("f32 1536x8960", try! PanelMatrix(Tensor.randomNormal([1536, 8960], std: 0.02, rng: &rng), storage: .float32)),
        ]
        var out: [BenchmarkResult] = []
        for threads in [1, 2] {
            Threading.setThreadCount(threads)
            for (name, m) in cases {
                let x = Tensor.randomNormal([1, m.columns], rng: &rng)
                let t = bestTime { _ = try? m.multiply(x) }
                out.append(BenchmarkResult(name: "panel \(name) n=1", threads: threads, gflops: 2 * Double(m.rows * m.columns) / t / 1e9, seconds: t,
                                           extra: ["gb_per_s": Double(m.byteCount) / t / 1e9]))
            }
        }
        return out
    }
}
