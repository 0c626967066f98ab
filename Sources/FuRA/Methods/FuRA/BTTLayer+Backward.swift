import FuRANN
import FuRATensor

// Legend: N rows; m output blocks of size a (O = m·a); n input blocks of size b (I = n·b); r rank per block.

/// The backward's products through a whole dZ (any m; the twin of the fused path) and the gradients of R' and S.
extension BTTLayer {
    /// dX and the gradients of R' through a whole dZ (N, m·n·r) = [G_i · L_iᵀ]_i: the path for m > 1 and the sgemm twin.
    func unfusedBackwardProducts(_ gRows: Tensor, needP: Bool) throws -> Tensor {
        let g = geometry
        let count = gRows.shape[0]
        let mr = g.m * g.r, nr = g.n * g.r, width = g.n * mr
        // dZ (N, m, n·r) = G_i · L_iᵀ, computed once.
        var dz = Self.take(&scratchBackward, [count, width])   // every element is written below
        gRows.withUnsafeBufferPointer { gp in
            left.value.withUnsafeBufferPointer { lp in
                dz.withUnsafeMutableBufferPointer { dp in
                    // SAFETY: G_i is N×a at column i·a (ld O); L_i is n·r×a (used transposed); dZ_i at column i·n·r.
                    Self.forEachBlock(g.m) { i in
                        BLAS.gemm(transposeA: false, transposeB: true, m: count, n: nr, k: g.a,
                                  a: gp.baseAddress! + i * g.a, lda: g.outFeatures,
                                  b: lp.baseAddress! + i * nr * g.a, ldb: g.a,
                                  c: dp.baseAddress! + i * nr, ldc: width)
                    }
                }
            }
        }
        // dH (N, n, m·r) = dZ in the H layout.
        let dh = g.m == 1 ? dz : Self.permuteBlocks(dz, rows: count, outer: g.m, inner: g.n, r: g.r)
        let dX: Tensor
        if let packedT = cachedPackedTransposed {
            // dX_j = dH_j · R'_jᵀ and P_j = x_jᵀ · dH_j in one pass over dH.
            dX = try packedBackwardProducts(dh, packedTransposed: packedT, x: needP ? cachedInput : nil)
        } else if let rPrime = cachedScaledRight {
            if needP, let x = cachedInput { try accumulateRightAndSingular(x: x, dh: dh, count: count) }
            dX = Self.blockInputGradient(dh, rPrime: rPrime, geometry: g, count: count)
        } else {
            throw LayerError.noForwardCache(layer: "BTTLayer")
        }
        scratchBackward = dz
        return dX
    }

    /// dX (N, I) = [dH_j · R'_jᵀ]_j, one serial sgemm per block. dH (N, n·m·r); R' (n, b, m·r).
    /// Shared by `QBTTLayer`, whose right core is the same when it is not the quantized one.
    static func blockInputGradient(_ dh: Tensor, rPrime: Tensor, geometry g: BTTGeometry, count: Int) -> Tensor {
        let mr = g.m * g.r, width = g.n * mr
        var dX = Tensor.zeros([count, g.inFeatures])
        dh.withUnsafeBufferPointer { hp in
            rPrime.withUnsafeBufferPointer { rp in
                dX.withUnsafeMutableBufferPointer { xp in
                    // SAFETY: dH_j is N×m·r (ld n·m·r); R'_j is b×m·r (used transposed); dX_j is N×b at column j·b (ld I).
                    Self.forEachBlock(g.n) { j in
                        BLAS.gemm(transposeA: false, transposeB: true, m: count, n: g.b, k: mr,
                                  a: hp.baseAddress! + j * mr, lda: width,
                                  b: rp.baseAddress! + j * g.b * mr, ldb: mr,
                                  c: xp.baseAddress! + j * g.b, ldc: g.inFeatures)
                    }
                }
            }
        }
        return dX
    }

    /// P_j = x_jᵀ · dH_j (b × m·r) is the gradient of R'_j; then dR = P ⊙ s and dS[i,j,k] = Σ_q R[j,q,i·r+k] · P_j[q,i·r+k].
    func accumulateRightAndSingular(x: Tensor, dh: Tensor, count: Int) throws {
        let g = geometry
        let direct = singular == nil && right.trainable
        func products(into out: inout Tensor, beta: Float) {
            Self.blockRightProducts(x: x, dh: dh, geometry: g, count: count, beta: beta, into: &out)
        }
        if direct {
            products(into: &right.gradient!, beta: 1)
            return
        }
        var p = Tensor.zeros(g.rightShape)
        products(into: &p, beta: 0)
        try accumulateFromProducts(p)
    }

    /// P_j = x_jᵀ · dH_j (b × m·r) for every block (`beta` 1 adds to `out`), one serial sgemm per block, side by side.
    /// x (N, I); dH (N, n·m·r); out (n, b, m·r). Shared by `QBTTLayer`.
    static func blockRightProducts(x: Tensor, dh: Tensor, geometry g: BTTGeometry, count: Int, beta: Float, into out: inout Tensor) {
        let mr = g.m * g.r, width = g.n * mr
        x.withUnsafeBufferPointer { xp in
            dh.withUnsafeBufferPointer { hp in
                out.withUnsafeMutableBufferPointer { pp in
                    // SAFETY: x_j is N×b (ld I, used transposed); dH_j is N×m·r (ld n·m·r); P_j is b×m·r.
                    forEachBlock(g.n) { j in
                        BLAS.gemm(transposeA: true, transposeB: false, m: g.b, n: mr, k: count,
                                  a: xp.baseAddress! + j * g.b, lda: g.inFeatures,
                                  b: hp.baseAddress! + j * mr, ldb: width,
                                  beta: beta, c: pp.baseAddress! + j * g.b * mr, ldc: mr)
                    }
                }
            }
        }
    }

    /// From P (n, b, m·r), the gradient of R': dS[i,j,k] += Σ_q R[j,q,i·r+k] · P[j,q,i·r+k] when S trains and
    /// dR += P ⊙ s when the right core trains (with no S, dR += P).
    func accumulateFromProducts(_ p: Tensor) throws {
        let g = geometry
        let mr = g.m * g.r
        guard let s = singular else {
            if right.trainable { try right.accumulateGradient(p) }
            return
        }
        let rows = g.n * g.b
        if s.trainable {
            // dS[i,j,k] = Σ_q R[j,q,i·r+k] · P[j,q,i·r+k].
            var ds = Tensor.zeros(g.singularShape)
            right.value.withUnsafeBufferPointer { rp in
                p.withUnsafeBufferPointer { pp in
                    ds.withUnsafeMutableBufferPointer { dp in
                        for row in 0..<rows {
                            let j = row / g.b, base = row * mr
                            for i in 0..<g.m {
                                let sBase = (i * g.n + j) * g.r, c = base + i * g.r
                                for k in 0..<g.r { dp[sBase + k] += rp[c + k] * pp[c + k] }
                            }
                        }
                    }
                }
            }
            try s.accumulateGradient(ds)
        }
        if right.trainable {
            // dR = P ⊙ s.
            s.value.withUnsafeBufferPointer { sp in
                p.withUnsafeBufferPointer { pp in
                    right.gradient!.withUnsafeMutableBufferPointer { gp in
                        for row in 0..<rows {
                            let j = row / g.b, base = row * mr
                            for i in 0..<g.m {
                                let sBase = (i * g.n + j) * g.r, c = base + i * g.r
                                for k in 0..<g.r { gp[c + k] += pp[c + k] * sp[sBase + k] }
                            }
                        }
                    }
                }
            }
        }
    }
}
