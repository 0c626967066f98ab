import Foundation
import FuRA
import FuRANN
import FuRATensor

extension Benchmarks {
    /// Where a BTT layer's time goes (`fura-bench --filter layer-parts`): one thread's CPU time of the whole layer and
    /// of each product of both forward routes and of the fused backward, next to the dense layer's two sgemms, for
    /// SmolLM2's square and down-projection shapes at N = 1024 (FuRA defaults: one output block, R trains, L frozen);
    /// `FURA_BENCH_SHAPES=4096x4096` (in×out) picks others; `FURA_BENCH_THREADS=2` times every line on two threads
    /// (best wall time of 20 instead of the calling thread's CPU time); `FURA_BENCH_TOKENS=384` sets N.
    static let bttParts = Benchmark(name: "layer-parts") {
        let threads = ProcessInfo.processInfo.environment["FURA_BENCH_THREADS"].flatMap { Int($0) } ?? 1
        Threading.setThreadCount(threads)
        var out: [BenchmarkResult] = []
        let tokens = ProcessInfo.processInfo.environment["FURA_BENCH_TOKENS"].flatMap { Int($0) } ?? 1024
        let shapes = environmentList("FURA_BENCH_SHAPES") ?? ["576x576", "1536x576"]   // in×out
        for shape in shapes.sorted() {
            let sides = shape.split(separator: "x").compactMap { Int($0) }
            guard sides.count == 2 else { continue }
            let (i, o) = (sides[0], sides[1])
            var rng = RNG(seed: 3)
            let w = Tensor.randomNormal([o, i], std: 0.05, rng: &rng)
            let x = Tensor.randomNormal([tokens, i], rng: &rng)
            let g = Tensor.randomNormal([tokens, o], rng: &rng)
            let btt = try! BTTLayer(converting: w, bias: nil)
            let (n, b, r) = (btt.geometry.n, btt.geometry.b, btt.geometry.r)
            let left = try! btt.left.value.reshaped([n * r, o]), right = btt.right.value
            func time(_ name: String, flops: Double = 0, _ body: () -> Void) {
                let t = threads == 1 ? bestThreadCPUTime(repeats: 10, body) : bestTime(repeats: 20, body)
                out.append(BenchmarkResult(name: "\(i)→\(o) \(name)", threads: threads, gflops: flops / t / 1e9, seconds: t))
            }
            let large = 2.0 * Double(tokens * i * o), small = 2.0 * Double(tokens * i * b)

            let dense = try! DenseLinear(weight: w)
            time("layer dense fwd+bwd") { _ = try! dense.forward(x, keepForBackward: true); _ = try! dense.backward(g) }
            time("layer btt fwd+bwd") { _ = try! btt.forward(x, keepForBackward: true); _ = try! btt.backward(g) }
            time("layer btt fwd") { _ = try! btt.forward(x, keepForBackward: true) }
            time("dense fwd sgemm x·Wᵀ", flops: large) { _ = try! Tensor.matmul(x, w, transposeB: true) }
            time("dense bwd sgemm G·W", flops: large) { _ = try! Tensor.matmul(g, w) }

            // Route `blockProducts`: H_j = x_j·R'_j on the packed small kernels, then y = H·L by sgemm.
            var packed = [Float](repeating: 0, count: n * SmallProduct.packedCount(k: b, columns: r))
            var packedT = [Float](repeating: 0, count: n * SmallProduct.packedCount(k: r, columns: b))
            right.withUnsafeBufferPointer { rp in
                for j in 0..<n {
                    SmallProduct.pack(rp.baseAddress! + j * b * r, lds: r, k: b, columns: r, transposed: false, scale: nil,
                                      into: &packed[j * SmallProduct.packedCount(k: b, columns: r)])
                    SmallProduct.pack(rp.baseAddress! + j * b * r, lds: r, k: r, columns: b, transposed: true, scale: nil,
                                      into: &packedT[j * SmallProduct.packedCount(k: r, columns: b)])
                }
            }
            var h = Tensor.zeros([tokens, n * r])
            func blockProducts() {
                x.withUnsafeBufferPointer { xp in
                    h.withUnsafeMutableBufferPointer { hp in
                        SmallProduct.blockDiagonal(blocks: n, rows: tokens, k: b, columns: r, x: xp.baseAddress!, ldx: i,
                                                   packed: packed, y: hp.baseAddress!, ldy: n * r)
                    }
                }
            }
            time("blocks: H = x_j·R'_j (small kernels)", flops: small) { blockProducts() }
            time("blocks: y = H·L (sgemm)", flops: large) { _ = try! Tensor.matmul(h, left) }
            time("blocks: H then y, in sequence", flops: small + large) { blockProducts(); _ = try! Tensor.matmul(h, left) }

            // Route `effectiveWeight`: W_eff = blockdiag(R')·L (one sgemm per block), packed, y = x·W_eff on panels.
            var weff = Tensor.zeros([i, o])
            time("W_eff: form, sgemm per block", flops: 2.0 * Double(i * b * o)) {
                right.withUnsafeBufferPointer { rp in
                    left.withUnsafeBufferPointer { lp in
                        weff.withUnsafeMutableBufferPointer { wp in
                            for j in 0..<n {
                                BLAS.gemm(transposeA: false, transposeB: false, m: b, n: o, k: r, a: rp.baseAddress! + j * b * r, lda: r,
                                          b: lp.baseAddress! + j * r * o, ldb: o, c: wp.baseAddress! + j * b * o, ldc: o)
                            }
                        }
                    }
                }
            }
            time("W_eff: pack panels") { _ = try! PanelMatrix(transposed: weff) }
            time("W_eff: form in panels, register tiles", flops: 2.0 * Double(i * b * o)) {
                right.withUnsafeBufferPointer { rp in
                    left.withUnsafeBufferPointer { lp in
                        _ = try! PanelMatrix(blockDiagonal: rp.baseAddress!, lda: r, blocks: n, blockRows: b, rank: r,
                                             times: lp.baseAddress!, ldb: o, columns: o)
                    }
                }
            }
            time("W_eff: form in panels, sgemm per block", flops: 2.0 * Double(i * b * o)) {
                right.withUnsafeBufferPointer { rp in
                    left.withUnsafeBufferPointer { lp in
                        _ = try! PanelMatrix(transposedRows: i, columns: o, blockRows: b) { first, rows, buffer in
                            BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: o, k: r, a: rp.baseAddress! + first * r, lda: r,
                                      b: lp.baseAddress! + first / b * r * o, ldb: o, c: buffer, ldc: o)
                        }
                    }
                }
            }
            let weffPanels = try! PanelMatrix(transposed: weff)
            time("W_eff: y = x·W_eff (panels)", flops: large) { _ = try! weffPanels.multiply(x) }

            // Fused backward: L packed once per call, dH = G·Lᵀ on panels, then dX_j and dR_j on the small kernels.
            time("bwd: pack L panels") { _ = try! PanelMatrix(left, storage: .float32) }
            let leftPanels = try! PanelMatrix(left, storage: .float32)
            time("bwd: dH = G·Lᵀ (panels)", flops: large) { h = try! leftPanels.multiply(g) }
            time("bwd: dH = G·Lᵀ (sgemm)", flops: large) { _ = try! Tensor.matmul(g, left, transposeB: true) }
            var dx = Tensor.zeros([tokens, i]), gradient = Tensor.zeros(right.shape)
            time("bwd: dX_j, dR_j (small kernels, one pass)", flops: 2 * small) {
                h.withUnsafeBufferPointer { hp in
                    x.withUnsafeBufferPointer { xp in
                        dx.withUnsafeMutableBufferPointer { dp in
                            gradient.withUnsafeMutableBufferPointer { gp in
                                SmallProduct.blockDiagonalBackward(blocks: n, rows: tokens, k: b, columns: r, dy: hp.baseAddress!,
                                                                   lddy: n * r, packedTransposed: packedT, dx: dp.baseAddress!, lddx: i,
                                                                   x: xp.baseAddress!, ldx: i, gradient: gp.baseAddress!, accumulate: true)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
