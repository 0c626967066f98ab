@testable import FuRATensor
import FuRATestSupport
import Testing

@Suite struct PanelMatrixTests {
    /// Every storage kind, against the one-weight-at-a-time reference, for row counts that exercise
    /// the 8-, 4- and 1-row kernels, a partial last panel (O = 37) and a partial last block (I = 77).
    @Test(arguments: [1, 3, 4, 8, 13, 64, 70])
    func multiplyMatchesReference(rows: Int) throws {
        let w = TestSupport.random([37, 77], seed: 1)
        let x = TestSupport.random([rows, 77], seed: 2)
        var rng = RNG(seed: 5)
        let four = try PanelMatrix(affineRows: 37, columns: 77, bits: 4) { _, codes, scales, offsets in
            for k in 0..<77 { codes[k] = Int8(rng.int(below: 16)) }
            for b in 0..<3 { scales[b] = rng.uniform() * 0.1; offsets[b] = rng.uniform() - 0.5 }
        }
        let matrices = [try PanelMatrix(w, storage: .float32), try PanelMatrix(w, storage: .bfloat16), try PanelMatrix.quantized8(w), four,
                        try PanelMatrix(w, storage: .bfloat16Dot)]
        for m in matrices {
            let fast = try m.multiply(x), slow = try m.multiplyReference(x)
            #expect(fast.shape == [rows, 37])
            let worst = zip(fast.storage, slow.storage).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(worst < 1e-4, "\(m.storage)")
        }
    }

    /// Packing from Wᵀ (whole or formed block by block) gives the same panels as packing W: the same weights and
    /// bit-identical products, with full and partial last panels, on one and two threads.
    @Test(arguments: [(19, 40), (32, 7), (48, 150)])
    func transposedPackingMatchesRowPacking(rows: Int, columns: Int) throws {
        let w = TestSupport.random([rows, columns], seed: 8)
        var wt = Tensor.zeros([columns, rows])
        for r in 0..<rows { for c in 0..<columns { wt.storage[c * rows + r] = w.storage[r * columns + c] } }
        let x = TestSupport.random([70, columns], seed: 9)
        let direct = try PanelMatrix(w, storage: .float32)
        for threads in [1, 2] {
            Threading.setThreadCount(threads)
            defer { Threading.setThreadCount(1) }
            let packed = try PanelMatrix(transposed: wt)
            #expect(packed.widened().storage == w.storage)
            #expect(try packed.multiply(x).storage == direct.multiply(x).storage)
            // Formed block by block (blocks of 3 and 16 rows of Wᵀ, the last one partial when 3 ∤ I).
            for blockRows in [3, 16] {
                let blockwise = try PanelMatrix(transposedRows: columns, columns: rows, blockRows: blockRows) { first, count, buffer in
                    for k in 0..<count { for c in 0..<rows { buffer[k * rows + c] = wt.storage[(first + k) * rows + c] } }
                }
                #expect(blockwise.widened().storage == w.storage, "blocks of \(blockRows)")
            }
            #expect(try PanelMatrix(w, storage: .float32).widened().storage == w.storage)
        }
    }

    /// Wᵀ = blockdiag(A_j)·B formed in the panels equals the product done one element at a time (sums in Double),
    /// with 8-row tiles and a tail (b = 11), on one and two threads; O not a multiple of 16 is refused.
    @Test func blockDiagonalProductPanelsMatchTheReference() throws {
        let (n, b, r, o) = (3, 11, 5, 32)
        let a = TestSupport.random([n * b, r], seed: 21), bm = TestSupport.random([n * r, o], seed: 22)
        var w = Tensor.zeros([o, n * b])   // W (O, I) = (blockdiag(A_j)·B)ᵀ
        for j in 0..<n {
            for q in 0..<b {
                for c in 0..<o {
                    var sum = 0.0
                    for k in 0..<r { sum += Double(a.storage[(j * b + q) * r + k]) * Double(bm.storage[(j * r + k) * o + c]) }
                    w.storage[c * n * b + j * b + q] = Float(sum)
                }
            }
        }
        for threads in [1, 2] {
            Threading.setThreadCount(threads)
            defer { Threading.setThreadCount(1) }
            let packed = try a.withUnsafeBufferPointer { ap in
                try bm.withUnsafeBufferPointer { bp in
                    try PanelMatrix(blockDiagonal: ap.baseAddress!, lda: r, blocks: n, blockRows: b, rank: r,
                                    times: bp.baseAddress!, ldb: o, columns: o)
                }
            }
            #expect(try packed.widened().relativeError(to: w) < 1e-6)
        }
        #expect(throws: TensorError.self) {
            try a.withUnsafeBufferPointer { ap in
                try bm.withUnsafeBufferPointer { bp in
                    _ = try PanelMatrix(blockDiagonal: ap.baseAddress!, lda: r, blocks: n, blockRows: b, rank: r,
                                        times: bp.baseAddress!, ldb: o, columns: 30)
                }
            }
        }
    }

    /// Threads split panels; the result must not depend on the split.
    @Test func threadedMatchesSingle() throws {
        let w = TestSupport.random([200, 96], seed: 3), x = TestSupport.random([9, 96], seed: 4)
        let m = try PanelMatrix.quantized8(w)
        Threading.setThreadCount(1)
        let one = try m.multiply(x)
        Threading.setThreadCount(2)
        defer { Threading.setThreadCount(1) }
        #expect(try m.multiply(x).storage == one.storage)
    }

    /// The packed layout holds exactly the weights (f32), their bf16 roundings, and codes·d + m.
    @Test func storesTheWeights() throws {
        let w = TestSupport.random([19, 40], seed: 6)
        #expect(try PanelMatrix(w, storage: .float32).widened().storage == w.storage)
        #expect(try PanelMatrix(w, storage: .bfloat16).widened().storage
                == w.storage.map { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: $0)) })
        #expect(try PanelMatrix(w, storage: .bfloat16Dot).widened().storage
                == w.storage.map { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: $0)) })
        let four = try PanelMatrix(affineRows: 19, columns: 40, bits: 4) { r, codes, scales, offsets in
            for k in 0..<40 { codes[k] = Int8((r + 3 * k) % 16) }
            scales[0] = 0.25; offsets[0] = Float(r); scales[1] = 0.5; offsets[1] = -1
        }
        var expected: [Float] = []
        for r in 0..<19 {
            for k in 0..<40 {
                let code = Float((r + 3 * k) % 16)
                let scale: Float = k < 32 ? 0.25 : 0.5
                let offset: Float = k < 32 ? Float(r) : -1
                expected.append(code * scale + offset)
            }
        }
        #expect(four.widened().storage == expected)
        // Codes take half a byte each, plus an f32 scale and offset per row and block of 32.
        let big = try PanelMatrix(affineRows: 64, columns: 256, bits: 4) { _, _, _, _ in }
        #expect(big.byteCount == 64 * 256 / 2 + 2 * 64 * 8 * 4)
    }

    /// Symmetric 8-bit blocks: each weight within half a step (d = max|w|/127 per row and block).
    @Test func quantized8ErrorIsBounded() throws {
        let w = TestSupport.random([5, 70], seed: 7)
        let q = try PanelMatrix.quantized8(w).widened()
        for r in 0..<5 {
            for b in 0..<3 {
                let ks = (b * 32)..<min(70, b * 32 + 32)
                let d = ks.map { abs(w.storage[r * 70 + $0]) }.max()! / 127
                for k in ks { #expect(abs(q.storage[r * 70 + k] - w.storage[r * 70 + k]) <= d / 2 * 1.0001) }
            }
        }
    }

    @Test func badInputThrows() throws {
        let m = try PanelMatrix(TestSupport.random([4, 8], seed: 1), storage: .float32)
        #expect(throws: TensorError.self) { try m.multiply(TestSupport.random([2, 7], seed: 2)) }
        #expect(throws: TensorError.self) {
            try PanelMatrix(affineRows: 2, columns: 8, bits: 4) { _, codes, _, _ in codes[0] = 16 }
        }
        #expect(throws: TensorError.self) { try PanelMatrix(affineRows: 2, columns: 8, bits: 6) { _, _, _, _ in } }
        #expect(throws: TensorError.self) { try PanelMatrix(TestSupport.random([4, 8], seed: 1), storage: .affine8) }
    }

    /// bf16 compute: the AVX512-BF16 path and its portable twin against the reference (x rounded to
    /// bf16, sums in Double), over row counts hitting every row block, odd I (a padding column), a
    /// partial last panel and an odd panel count (O = 37: a pair of panels and a single one).
    @Test(arguments: [1, 2, 7, 8, 15, 64, 300])
    func bfloat16DotMatchesReference(rows: Int) throws {
        let w = TestSupport.random([37, 77], seed: 11), x = TestSupport.random([rows, 77], seed: 12)
        let m = try PanelMatrix(w, storage: .bfloat16Dot)
        let slow = try m.multiplyReference(x)
        for portable in [false, true] {
            var y = Tensor.zeros([rows, 37])
            x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
                m.multiplyBFloat16Dot(px.baseAddress!, rows: rows, into: py.baseAddress!, portable: portable)
            } }
            let worst = zip(y.storage, slow.storage).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(worst < 1e-4, "portable: \(portable)")
        }
        // Rounding x to bf16 is what makes it differ from the f32 product, by about 2⁻⁹ relative.
        let exact = try PanelMatrix(w, storage: .float32).multiply(x)
        let scale = exact.storage.reduce(Float(0)) { max($0, abs($1)) }
        let drift = zip(slow.storage, exact.storage).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(drift > 0 && drift < 0.05 * scale)
    }

    /// Rounding of x inside the kernel is bf16 round-to-nearest-even, as `HalfPrecision` rounds.
    @Test func bfloat16DotRoundsLikeHalfPrecision() throws {
        // One output, weight 1 at column k: the product returns x[k] as the kernel rounded it.
        let columns = 45
        for k in [0, 1, 31, 32, 44] {
            var w = Tensor.zeros([1, columns]); w.storage[k] = 1
            let m = try PanelMatrix(w, storage: .bfloat16Dot)
            let x = TestSupport.random([3, columns], seed: UInt64(k + 20))
            let y = try m.multiply(x)
            for r in 0..<3 {
                #expect(y.storage[r] == HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: x.storage[r * columns + k])))
            }
        }
    }

    /// Full bf16-dot panels are packed 16 rows at a time in vector lanes: every stored weight is the per-weight
    /// rounding's (ties to even, infinities, NaN quieted), and repack writes the same bits again.
    @Test func bfloat16DotPanelPackingRoundsEveryWeightLikeHalfPrecision() throws {
        var w = TestSupport.random([32, 10], seed: 3)
        let specials: [Float] = [.nan, .infinity, -.infinity, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), -0.0,
                                 .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        for (n, v) in specials.enumerated() { w.storage[n * 37 % w.count] = v }
        let m = try PanelMatrix(w, storage: .bfloat16Dot)
        for r in 0..<32 {
            for k in 0..<10 {
                let expected = HalfPrecision.bfloat16Bits(from: w.storage[r * 10 + k])
                #expect(HalfPrecision.bfloat16Bits(from: m.element(r, k)) == expected || (m.element(r, k).isNaN && w.storage[r * 10 + k].isNaN))
            }
        }
        let before = m.widened().storage.map(\.bitPattern)
        try m.repack(w)
        #expect(m.widened().storage.map(\.bitPattern) == before)
        #expect(throws: TensorError.self) { try m.repack(TestSupport.random([32, 9], seed: 1)) }
        #expect(throws: TensorError.self) { try m.repack(TestSupport.random([16, 10], seed: 1), firstRow: 8) }
        // One panel alone: rows 16..<32 change, rows 0..<16 keep their bits.
        let lower = TestSupport.random([16, 10], seed: 2)
        try m.repack(lower, firstRow: 16)
        let now = m.widened().storage
        #expect(now[0..<160].map(\.bitPattern) == Array(before[0..<160]))
        #expect(Array(now[160..<320]) == lower.storage.map { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: $0)) })
    }
}
