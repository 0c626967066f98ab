import FuRATestSupport
import Foundation
import Testing
@testable import FuRATensor

@Suite struct KernelsExpTests {
    /// The vector exp against `Double` exp over the whole normal range, plus the edge cases.
    @Test func vectorExpMatchesReference() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            var v = Kernels.Vector()
            for j in 0..<Kernels.width { v[j] = x + Float(j) * 0.0071 }
            let e = Kernels.exp(v)
            for j in 0..<Kernels.width {
                let reference = Kernels.expReference(v[j])
                worst = max(worst, abs(e[j] - reference) / reference)
            }
            x += 0.1234
        }
        #expect(worst < 2e-7)
        var edges = Kernels.Vector(repeating: 0)
        edges[0] = -.infinity; edges[1] = -100; edges[2] = .nan; edges[3] = 0; edges[4] = 1
        let e = Kernels.exp(edges)
        #expect(e[0] == 0 && e[1] == 0 && e[2].isNaN && e[3] == 1)
        #expect(abs(e[4] - Float(M_E)) < 1e-6)
    }

    @Test func expShiftedSumAndSiLUMatchReferences() {
        for n in [1, 15, 16, 33, 1000] {
            let x = TestSupport.random([n], seed: UInt64(n)).storage.map { $0 * 8 }
            var fast = x
            let total = fast.withUnsafeMutableBufferPointer { Kernels.expShiftedSum($0.baseAddress!, n, shift: 3) }
            let reference = x.map { Double(Kernels.expReference($0 - 3)) }
            for i in 0..<n { #expect(abs(Double(fast[i]) - reference[i]) <= 2e-7 * reference[i]) }
            let referenceTotal = reference.reduce(0, +)
            #expect(abs(Double(total) - referenceTotal) <= 1e-6 * referenceTotal)
            var s1 = x, s2 = x
            s1.withUnsafeMutableBufferPointer { Kernels.silu($0.baseAddress!, $0.baseAddress!, n) }
            s2.withUnsafeMutableBufferPointer { Kernels.siluReference($0.baseAddress!, $0.baseAddress!, n) }
            for i in 0..<n { #expect(abs(s1[i] - s2[i]) <= 1e-6 * max(1, abs(s2[i]))) }
        }
    }

    /// Products large enough to be sliced across threads equal the reference for every transpose,
    /// both slicing directions and strided operands.
    @Test func slicedGemmMatchesReference() throws {
        let saved = Threading.threadCount
        defer { Threading.setThreadCount(saved) }
        Threading.setThreadCount(3)
        for (m, n, k) in [(160, 40, 200), (40, 170, 190)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                #expect(m * n * k >= BLAS.parallelThreshold)
                let (lda, ldb, ldc) = ((ta ? m : k) + 3, (tb ? k : n) + 2, n + 5)
                let a = TestSupport.random([(ta ? k : m) * lda], seed: 1).storage
                let b = TestSupport.random([(tb ? n : k) * ldb], seed: 2).storage
                var fast = TestSupport.random([m * ldc], seed: 3).storage
                var slow = fast
                BLAS.gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                          beta: 0.25, c: &fast, ldc: ldc)
                BLAS.gemmReference(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                                   beta: 0.25, c: &slow, ldc: ldc)
                let error = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
                #expect(error < 1e-3)
            }
        }
    }
}

@Suite struct KernelsMaxTests {
    @Test func vectorMaxEqualsScalarMax() {
        for n in [1, 7, 16, 63, 64, 65, 200, 49_152] {
            let x = TestSupport.random([n], seed: UInt64(n + 11)).storage
            let fast = x.withUnsafeBufferPointer { Kernels.max($0.baseAddress!, n) }
            #expect(fast == x.max())
        }
    }
}

@Suite struct KernelsLogSumExpTests {
    @Test func logSumExpMatchesDouble() {
        for n in [1, 17, 49_152] {
            let x = TestSupport.random([n], seed: UInt64(n + 3)).storage.map { $0 * 10 }
            let m = Double(x.max()!)
            let reference = m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
            let fast = x.withUnsafeBufferPointer { Kernels.logSumExp($0.baseAddress!, n) }
            #expect(abs(Double(fast) - reference) <= 1e-5 * max(1, abs(reference)))
        }
    }
}
