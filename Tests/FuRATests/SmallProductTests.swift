import FuRATensor
import FuRATestSupport
import Testing

/// Shapes (N, K, C) with N not a multiple of 8, K not a multiple of 16, and partial last panels.
private let smallProductShapes: [(Int, Int, Int)] = [
    (1, 1, 1), (7, 5, 3), (13, 24, 24), (21, 17, 33), (9, 48, 48), (70, 64, 40), (8, 3, 16), (16, 31, 47), (11, 9, 20),
]

/// Max |a − b| / max(1, max |b|) over `count` elements.
private func maxError(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(1, b.map(abs).max() ?? 0)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

@Suite struct SmallProductTests {
    /// `pack` + `multiply` against the triple loop, with strided A and C (C's neighbours must stay untouched),
    /// B as given or transposed, with and without a column scale, overwriting and accumulating.
    @Test func multiplyMatchesTheReference() throws {
        var seed: UInt64 = 10
        for (n, k, c) in smallProductShapes {
            for transposed in [false, true] {
                for scaled in [false, true] {
                    for accumulate in [false, true] {
                        seed += 5
                        let (lda, ldc, lds) = (k + 3, c + 5, (transposed ? k : c) + 2)
                        let a = TestSupport.random([n * lda], seed: seed).storage
                        let s = TestSupport.random([(transposed ? c : k) * lds], seed: seed + 1).storage
                        let scale = TestSupport.random([transposed ? k : c], seed: seed + 2).storage
                        let start = TestSupport.random([n * ldc], seed: seed + 3).storage
                        var packed = [Float](repeating: .nan, count: SmallProduct.packedCount(k: k, columns: c))
                        var fast = start, slow = start
                        scale.withUnsafeBufferPointer { sc in
                            let sp = scaled ? sc.baseAddress! : nil
                            SmallProduct.pack(s, lds: lds, k: k, columns: c, transposed: transposed, scale: sp, into: &packed)
                            SmallProduct.multiply(a, lda: lda, rows: n, k: k, packed: packed, columns: c,
                                                  into: &fast, ldc: ldc, accumulate: accumulate)
                            SmallProduct.multiplyReference(a, lda: lda, rows: n, k: k, s, lds: lds, columns: c,
                                                           transposed: transposed, scale: sp, into: &slow, ldc: ldc,
                                                           accumulate: accumulate)
                        }
                        let label = "N=\(n) K=\(k) C=\(c) transposed=\(transposed) scaled=\(scaled) accumulate=\(accumulate)"
                        #expect(maxError(fast, slow) < 1e-5, "\(label)")
                        for i in 0..<n { for j in c..<ldc { #expect(fast[i * ldc + j] == start[i * ldc + j], "\(label)") } }
                    }
                }
            }
        }
    }

    /// `multiplyTransposedA` against the triple loop; every element of A and D outside the operand blocks is NaN,
    /// so a lane read past a block's columns that leaked into C would show.
    @Test func transposedProductMatchesTheReferenceAndIgnoresNeighbours() throws {
        var seed: UInt64 = 500
        for (n, k, c) in smallProductShapes {
            for accumulate in [false, true] {
                seed += 5
                let (lda, ldd, ldc) = (k + 9, c + 4, c + 1)
                var a = TestSupport.random([n * lda], seed: seed).storage
                var d = TestSupport.random([n * ldd], seed: seed + 1).storage
                for t in 0..<n {
                    for q in k..<lda { a[t * lda + q] = .nan }
                    for j in c..<ldd { d[t * ldd + j] = .nan }
                }
                let start = TestSupport.random([k * ldc], seed: seed + 2).storage
                var fast = start, slow = start
                SmallProduct.multiplyTransposedA(a, lda: lda, rows: n, k: k, d, ldd: ldd, columns: c,
                                                 into: &fast, ldc: ldc, accumulate: accumulate)
                SmallProduct.multiplyTransposedAReference(a, lda: lda, rows: n, k: k, d, ldd: ldd, columns: c,
                                                          into: &slow, ldc: ldc, accumulate: accumulate)
                let label = "N=\(n) K=\(k) C=\(c) accumulate=\(accumulate)"
                #expect(maxError(fast, slow) < 1e-5, "\(label)")
                for q in 0..<k { #expect(fast[q * ldc + c] == start[q * ldc + c], "\(label)") }
            }
        }
    }

    /// The block loops (forward, and backward with and without the gradient) against per-block reference
    /// products, with 1 and 2 threads; N = 133 spans several row chunks and a tail.
    @Test(arguments: [1, 2])
    func blockLoopsMatchPerBlockReferences(threads: Int) throws {
        Threading.setThreadCount(threads)
        defer { Threading.setThreadCount(1) }
        for (blocks, rows, k, c) in [(3, 133, 6, 5), (5, 70, 24, 24), (4, 9, 17, 40)] {
            let (ldx, ldy) = (blocks * k, blocks * c)
            let x = TestSupport.random([rows * ldx], seed: UInt64(rows)).storage
            let dy = TestSupport.random([rows * ldy], seed: UInt64(rows + 1)).storage
            let right = TestSupport.random([blocks * k * c], seed: UInt64(rows + 2)).storage   // B_j (K, C) at j·K·C
            let per = SmallProduct.packedCount(k: k, columns: c), perT = SmallProduct.packedCount(k: c, columns: k)
            var packed = [Float](repeating: 0, count: blocks * per), packedT = [Float](repeating: 0, count: blocks * perT)
            right.withUnsafeBufferPointer { rp in
                packed.withUnsafeMutableBufferPointer { pp in
                    packedT.withUnsafeMutableBufferPointer { tp in
                        for j in 0..<blocks {
                            SmallProduct.pack(rp.baseAddress! + j * k * c, lds: c, k: k, columns: c, transposed: false,
                                              scale: nil, into: pp.baseAddress! + j * per)
                            SmallProduct.pack(rp.baseAddress! + j * k * c, lds: c, k: c, columns: k, transposed: true,
                                              scale: nil, into: tp.baseAddress! + j * perT)
                        }
                    }
                }
            }
            var y = [Float](repeating: .nan, count: rows * ldy), yRef = y
            var dx = [Float](repeating: .nan, count: rows * ldx), dxRef = dx
            let start = TestSupport.random([blocks * k * c], seed: 7).storage
            var grad = start, gradRef = start
            SmallProduct.blockDiagonal(blocks: blocks, rows: rows, k: k, columns: c, x: x, ldx: ldx, packed: packed,
                                       y: &y, ldy: ldy)
            SmallProduct.blockDiagonalBackward(blocks: blocks, rows: rows, k: k, columns: c, dy: dy, lddy: ldy,
                                               packedTransposed: packedT, dx: &dx, lddx: ldx, x: x, ldx: ldx,
                                               gradient: &grad, accumulate: true)
            x.withUnsafeBufferPointer { xp in dy.withUnsafeBufferPointer { dp in right.withUnsafeBufferPointer { rp in
                yRef.withUnsafeMutableBufferPointer { yr in dxRef.withUnsafeMutableBufferPointer { xr in
                    gradRef.withUnsafeMutableBufferPointer { gr in
                        for j in 0..<blocks {
                            SmallProduct.multiplyReference(xp.baseAddress! + j * k, lda: ldx, rows: rows, k: k,
                                                           rp.baseAddress! + j * k * c, lds: c, columns: c, transposed: false,
                                                           scale: nil, into: yr.baseAddress! + j * c, ldc: ldy, accumulate: false)
                            SmallProduct.multiplyReference(dp.baseAddress! + j * c, lda: ldy, rows: rows, k: c,
                                                           rp.baseAddress! + j * k * c, lds: c, columns: k, transposed: true,
                                                           scale: nil, into: xr.baseAddress! + j * k, ldc: ldx, accumulate: false)
                            SmallProduct.multiplyTransposedAReference(xp.baseAddress! + j * k, lda: ldx, rows: rows, k: k,
                                                                      dp.baseAddress! + j * c, ldd: ldy, columns: c,
                                                                      into: gr.baseAddress! + j * k * c, ldc: c, accumulate: true)
                        }
                    }
                } }
            } } }
            let label = "blocks=\(blocks) N=\(rows) K=\(k) C=\(c) threads=\(threads)"
            #expect(maxError(y, yRef) < 1e-5, "forward \(label)")
            #expect(maxError(dx, dxRef) < 1e-5, "dX \(label)")
            #expect(maxError(grad, gradRef) < 1e-5, "gradient \(label)")
            // Without a gradient: the same dX, and x is not needed.
            var dx2 = [Float](repeating: .nan, count: rows * ldx)
            SmallProduct.blockDiagonalBackward(blocks: blocks, rows: rows, k: k, columns: c, dy: dy, lddy: ldy,
                                               packedTransposed: packedT, dx: &dx2, lddx: ldx, x: dy, ldx: 0,
                                               gradient: nil, accumulate: false)
            #expect(dx2 == dx, "\(label)")
            // Overwriting the gradient equals accumulating into zeros.
            var fresh = [Float](repeating: .nan, count: blocks * k * c), zero = [Float](repeating: 0, count: blocks * k * c)
            SmallProduct.blockDiagonalBackward(blocks: blocks, rows: rows, k: k, columns: c, dy: dy, lddy: ldy,
                                               packedTransposed: packedT, dx: &dx2, lddx: ldx, x: x, ldx: ldx,
                                               gradient: &fresh, accumulate: false)
            SmallProduct.blockDiagonalBackward(blocks: blocks, rows: rows, k: k, columns: c, dy: dy, lddy: ldy,
                                               packedTransposed: packedT, dx: &dx2, lddx: ldx, x: x, ldx: ldx,
                                               gradient: &zero, accumulate: true)
            #expect(fresh == zero, "\(label)")
        }
    }
}
