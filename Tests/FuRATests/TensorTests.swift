import FuRATestSupport
import Testing
@testable import FuRATensor

@Suite struct TensorTests {
    @Test func shapeHelpersThrowOnWrongRank() throws {
        let t = Tensor.zeros([2, 3])
        #expect(try t.dims2() == (2, 3))
        #expect(throws: TensorError.rankMismatch(operation: "dims3", expected: 3, actual: [2, 3])) { try t.dims3() }
        #expect(throws: TensorError.self) { try t.reshaped([4, 2]) }
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 2], data: [1, 2, 3]) }
    }

    @Test func matmulMatchesReferenceForAllTransposes() throws {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, n, k) = (7, 5, 11)
            let a = TestSupport.random(ta ? [k, m] : [m, k], seed: 1)
            let b = TestSupport.random(tb ? [n, k] : [k, n], seed: 2)
            let fast = try Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
            var slow = Tensor.zeros([m, n])
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in slow.withUnsafeMutableBufferPointer { pc in
                BLAS.gemmReference(transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: pa.baseAddress!, lda: a.shape[1],
                                   b: pb.baseAddress!, ldb: b.shape[1], c: pc.baseAddress!, ldc: n)
            } } }
            #expect(try fast.relativeError(to: slow) < 1e-6)
        }
    }

    @Test func matmulRejectsMismatchedShapesNamingBoth() {
        let a = Tensor.zeros([2, 3]), b = Tensor.zeros([4, 5])
        #expect(throws: TensorError.shapeMismatch(operation: "matmul", lhs: [2, 3], rhs: [4, 5])) { try Tensor.matmul(a, b) }
        #expect(throws: TensorError.self) { try Tensor.matmul(Tensor.zeros([2, 3, 4]), b) }
        var out = Tensor.zeros([9, 9])
        #expect(throws: TensorError.self) { try Tensor.matmul(a, Tensor.zeros([3, 2]), into: &out, accumulate: true) }
    }

    @Test func batchedMatmulMatchesPerBatchProducts() throws {
        let a = TestSupport.random([3, 4, 6], seed: 3), b = TestSupport.random([3, 5, 6], seed: 4)
        let c = try Tensor.batchedMatmul(a, b, transposeB: true)
        for g in 0..<3 {
            let ag = try Tensor(shape: [4, 6], data: Array(a.storage[(g * 24)..<((g + 1) * 24)]))
            let bg = try Tensor(shape: [5, 6], data: Array(b.storage[(g * 30)..<((g + 1) * 30)]))
            let cg = try Tensor.matmul(ag, bg, transposeB: true)
            #expect(Array(c.storage[(g * 20)..<((g + 1) * 20)]) == cg.storage)
        }
    }

    @Test func kernelsMatchTheirReferences() throws {
        let x = TestSupport.random([5, 37], seed: 5, std: 3)
        let y = TestSupport.random([5, 37], seed: 6)
        x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in
            let fast = Kernels.dot(px.baseAddress!, py.baseAddress!, 185)
            let slow = Kernels.dotReference(px.baseAddress!, py.baseAddress!, 185)
            #expect(abs(fast - slow) < 1e-4 * max(1, abs(slow)))
        } }
        var s1 = x, s2 = x
        s1.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: 5, columns: 37) }
        s2.withUnsafeMutableBufferPointer { Kernels.softmaxRowsReference($0.baseAddress!, rows: 5, columns: 37) }
        #expect(try s1.relativeError(to: s2) < 1e-6)
        var r1 = [Float](repeating: 0, count: 5), r2 = r1
        x.withUnsafeBufferPointer {
            Kernels.rmsRows($0.baseAddress!, rows: 5, columns: 37, eps: 1e-5, out: &r1)
            Kernels.rmsRowsReference($0.baseAddress!, rows: 5, columns: 37, eps: 1e-5, out: &r2)
        }
        for i in 0..<5 { #expect(abs(r1[i] - r2[i]) < 1e-5 * r2[i]) }
        var a1 = x, a2 = x
        let n = x.count
        a1.withUnsafeMutableBufferPointer { Kernels.silu($0.baseAddress!, $0.baseAddress!, n) }
        a2.withUnsafeMutableBufferPointer { Kernels.siluReference($0.baseAddress!, $0.baseAddress!, n) }
        #expect(try a1.relativeError(to: a2) < 1e-6)
        x.withUnsafeBufferPointer {
            #expect(Kernels.topK($0.baseAddress!, 185, k: 9) == Kernels.topKReference($0.baseAddress!, 185, k: 9))
            #expect(Kernels.argmax($0.baseAddress!, 185) == Kernels.topKReference($0.baseAddress!, 185, k: 1)[0])
        }
    }

    @Test func thinSVDReconstructsAndIsCanonical() throws {
        for (m, n) in [(7, 3), (3, 7), (12, 12), (1, 5)] {
            for precision in [FactorizationPrecision.float, .double] {
                let a = TestSupport.random([m, n], seed: UInt64(m * 100 + n))
                let svd = try LAPACK.svd(a, precision: precision)
                var us = svd.u
                let k = min(m, n)
                for r in 0..<m { for c in 0..<k { us[r, c] *= svd.s[c] } }
                let back = try Tensor.matmul(us, svd.vt)
                #expect(try back.relativeError(to: a) < 1e-5)
                for c in 0..<k {
                    let column = (0..<m).map { svd.u[$0, c] }
                    let largest = column.max { abs($0) < abs($1) }!
                    #expect(largest > 0)
                }
                var negated = a
                negated.scale(by: -1)
                let again = try LAPACK.svd(negated, precision: precision)
                #expect(try again.u.relativeError(to: svd.u) < 1e-4)
            }
        }
        #expect(throws: TensorError.self) { try LAPACK.svd(try Tensor(shape: [2, 2], data: [1, .nan, 0, 1])) }
    }

    @Test func qrReconstructs() throws {
        for (m, n) in [(6, 4), (4, 6), (5, 5)] {
            let a = TestSupport.random([m, n], seed: 9)
            let qr = try LAPACK.qr(a)
            #expect(try Tensor.matmul(qr.q, qr.r).relativeError(to: a) < 1e-6)
            let qtq = try Tensor.matmul(qr.q, qr.q, transposeA: true)
            for i in 0..<min(m, n) { #expect(abs(qtq[i, i] - 1) < 1e-6) }
        }
    }

    @Test func halfPrecisionConversions() {
        for v: Float in [0, 1, -2.5, 65504, 1e-3, 3.1415927] {
            #expect(HalfPrecision.float(fromFloat16Bits: HalfPrecision.float16Bits(from: v)) == Float(Float16(v)))
        }
        #expect(HalfPrecision.bfloat16Bits(from: 1.0) == 0x3F80)
        // 1 + 2^-8 is halfway between two bf16 values: ties go to even (1.0).
        #expect(HalfPrecision.bfloat16Bits(from: 1.00390625) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(from: 1.01171875) == 0x3F82)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0xC040) == -3)
        #expect(HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: .nan)).isNaN)
    }

    @Test func rngIsReproducibleAndRoughlyNormal() {
        var a = RNG(seed: 42), b = RNG(seed: 42)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var rng = RNG(seed: 7)
        let xs = (0..<20000).map { _ in Double(rng.normal()) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)
        #expect(abs(mean) < 0.03)
        #expect(abs(variance - 1) < 0.05)
        let us = (0..<1000).map { _ in rng.uniform() }
        #expect(us.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test func parallelForCoversEveryIndexOnce() {
        Threading.setThreadCount(2)
        defer { Threading.setThreadCount(1) }
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 1000)
        counts.initialize(repeating: 0, count: 1000)
        defer { counts.deallocate() }
        Threading.parallelFor(1000) { start, end in for i in start..<end { counts[i] += 1 } }
        #expect((0..<1000).allSatisfy { counts[$0] == 1 })
    }

    @Test func filledWritesEveryElementWithoutZeroFill() throws {
        let t = Tensor.filled([3, 5]) { p in for i in 0..<15 { p[i] = Float(i) * 0.5 } }
        #expect(t.shape == [3, 5])
        #expect(t.storage == (0..<15).map { Float($0) * 0.5 })
        #expect(Tensor.filled([0, 4]) { _ in }.storage.isEmpty)
    }
}
