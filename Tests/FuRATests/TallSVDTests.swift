import FuRATestSupport
import Testing
@testable import FuRA
@testable import FuRATensor

@Suite struct TallSVDWorkspaceTests {
    /// Factors `a` (M, N) with the workspace and checks S, U, Vᵀ against `LAPACK.svd` in `Double`, its simple twin.
    func expectMatchesLAPACK(_ a: Tensor, _ ws: TallSVDWorkspace, fallback: Bool, _ label: String) throws {
        let (m, n) = (a.shape[0], a.shape[1])
        try ws.factor { row in for i in 0..<(m * n) { row[i] = Double(a.storage[i]) } }
        #expect(ws.usedFallback == fallback, "path \(label)")
        let ref = try LAPACK.svd(a, precision: .double)
        var worst: Float = 0
        for c in 0..<n {
            #expect(abs(Float(ws.s[c]) - ref.s[c]) <= 1e-6 * ref.s[0], "s \(label)")
            for p in 0..<m { worst = max(worst, abs(Float(ws.u[p + c * m]) - ref.u[p, c])) }
            for q in 0..<n { worst = max(worst, abs(Float(ws.vt[c + q * n]) - ref.vt[c, q])) }
        }
        #expect(worst < 1e-6, "u, vt \(label): largest difference \(worst)")
    }

    @Test func gramPathMatchesLAPACKSVDOnWellConditionedBlocks() throws {
        for (m, n) in [(40, 6), (64, 24), (34, 17), (9, 1), (576, 24), (192, 64)] {
            let ws = try TallSVDWorkspace(rows: m, columns: n)
            for round in 0..<2 {
                let a = TestSupport.random([m, n], seed: UInt64(m * 100 + n + round))
                try expectMatchesLAPACK(a, ws, fallback: false, "\(m)x\(n) round \(round)")
            }
        }
    }

    /// κ ≈ 40 (inside the limit, where squaring κ costs most accuracy) still gives `dgesdd`'s factors in `Float`.
    @Test func gramPathStaysExactNearTheConditionLimit() throws {
        var a = TestSupport.random([300, 12], seed: 77)
        for p in 0..<300 { a[p, 5] *= 0.03 }
        let ws = try TallSVDWorkspace(rows: 300, columns: 12)
        try expectMatchesLAPACK(a, ws, fallback: false, "kappa ~40")
        #expect(ws.s[0] / ws.s[11] > 20 && ws.s[0] / ws.s[11] < TallSVDWorkspace.conditionLimit)
    }

    /// Ill-conditioned and rank-deficient blocks take the `dgesdd` path, then a good block the Gram path again.
    @Test func illConditionedBlocksFallBackToDGESDD() throws {
        let ws = try TallSVDWorkspace(rows: 50, columns: 8)
        var ill = TestSupport.random([50, 8], seed: 3)
        for p in 0..<50 { ill[p, 2] *= 1e-4 }
        try expectMatchesLAPACK(ill, ws, fallback: true, "kappa ~1e4")
        var deficient = TestSupport.random([50, 8], seed: 4)
        for p in 0..<50 { deficient[p, 7] = deficient[p, 1] }
        try ws.factor { row in for i in 0..<400 { row[i] = Double(deficient.storage[i]) } }
        #expect(ws.usedFallback)
        // Rank-deficient: singular vectors of the zero singular value are not unique, so check the reconstruction.
        var maxError = 0.0
        for p in 0..<50 {
            for q in 0..<8 {
                var x = 0.0
                for c in 0..<8 { x += ws.u[p + c * 50] * ws.s[c] * ws.vt[c + q * 8] }
                maxError = max(maxError, abs(x - Double(deficient[p, q])))
            }
        }
        #expect(maxError < 1e-10)
        #expect(ws.s[7] < 1e-6 * ws.s[0])
        try expectMatchesLAPACK(TestSupport.random([50, 8], seed: 5), ws, fallback: false, "good again")
    }

    @Test func badInputGivesTypedErrors() throws {
        #expect(throws: TensorError.self) { try TallSVDWorkspace(rows: 3, columns: 4) }
        #expect(throws: TensorError.self) { try TallSVDWorkspace(rows: 3, columns: 0) }
        let ws = try TallSVDWorkspace(rows: 4, columns: 2)
        #expect(throws: TensorError.self) { try ws.factor { for i in 0..<8 { $0[i] = 1 }; $0[3] = .nan } }
        #expect(throws: TensorError.self) { try ws.factor { for i in 0..<8 { $0[i] = 1 }; $0[6] = -.infinity } }
        let zero = try TallSVDWorkspace(rows: 4, columns: 2)
        try zero.factor { for i in 0..<8 { $0[i] = 0 } }
        #expect(zero.usedFallback && zero.s == [0, 0])
    }

    /// The conversion (Gram path, and the `dgesdd` path for an ill-conditioned block) packs exactly the factors of a
    /// per-block `LAPACK.svd` in `Double`: same order, same signs, equal to float rounding.
    @Test func bttConversionPacksTheFactorsOfPerBlockLAPACKSVD() throws {
        for (o, i, input) in [(96, 60, FactorPair(6, 10)), (192, 128, FactorPair(2, 64))] {
            var w = TestSupport.random([o, i], seed: UInt64(o + i), std: 0.05)
            for p in 0..<o { w[p, input.size + 3] *= 1e-3 }  // block 1 has κ ≈ 10³: the dgesdd path
            let layer = try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(inputFactorization: input))
            let g = layer.geometry
            #expect(g == BTTGeometry(m: 1, a: o, n: input.blocks, b: input.size, r: input.size))
            let singular = try #require(layer.singular)
            var worst: Float = 0
            for j in 0..<g.n {
                var block = Tensor.zeros([o, g.b])
                for p in 0..<o { for q in 0..<g.b { block[p, q] = w[p, j * g.b + q] } }
                let ref = try LAPACK.svd(block, precision: .double)
                for c in 0..<g.r {
                    #expect(abs(singular.value[0, j, c] - ref.s[c]) <= 1e-6 * ref.s[0])
                    for p in 0..<o { worst = max(worst, abs(layer.left.value[0, j * g.r + c, p] - ref.u[p, c])) }
                    for q in 0..<g.b { worst = max(worst, abs(layer.right.value[j, q, c] - ref.vt[c, q])) }
                }
            }
            #expect(worst < 1e-6, "\(o)x\(i): largest difference \(worst)")
            #expect(try layer.denseWeight().relativeError(to: w) < 1e-6)
        }
    }
}
