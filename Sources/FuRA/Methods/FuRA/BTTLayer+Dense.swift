import FuRANN
import FuRATensor

// Legend: m output blocks of size a (O = m·a); n input blocks of size b (I = n·b); r rank per block.

extension BTTLayer {
    /// The dense weight (O, I) this layer computes (Docs/factorization.md §13): block (i, j) is
    /// `U_ij · diag(s_ij) · V_ijᵀ` with U_ij = `btt_l[i, j·r..<(j+1)·r, :]ᵀ` and V_ijᵀ[k, q] = `btt_r[j, q, i·r+k]`.
    public func denseWeight() throws -> Tensor {
        let g = geometry
        let mr = g.m * g.r, nr = g.n * g.r
        let rPrime = scaledRight()
        var w = Tensor.unfilled([g.outFeatures, g.inFeatures])   // the m·n blocks tile W (beta = 0)
        left.value.withUnsafeBufferPointer { lp in
            rPrime.withUnsafeBufferPointer { rp in
                w.withUnsafeMutableBufferPointer { wp in
                    // SAFETY: op(A) = (r×a block of L_i at row j·r)ᵀ is a×r (ld a); op(B) = (b×r columns i·r.. of R'_j)ᵀ
                    // is r×b (ld m·r); the a×b result lands at row i·a, column j·b of W (ld I).
                    // The m·n block products side by side, one serial sgemm each.
                    Self.forEachBlock(g.m * g.n) { block in
                        let (i, j) = (block / g.n, block % g.n)
                        BLAS.gemm(transposeA: true, transposeB: true, m: g.a, n: g.b, k: g.r,
                                  a: lp.baseAddress! + (i * nr + j * g.r) * g.a, lda: g.a,
                                  b: rp.baseAddress! + j * g.b * mr + i * g.r, ldb: mr,
                                  c: wp.baseAddress! + i * g.a * g.inFeatures + j * g.b, ldc: g.inFeatures)
                    }
                }
            }
        }
        return w
    }

    /// Rescales the trainable cores after an optimizer step (Docs/factorization.md §15): every `btt_r[j, :, c]` (over b) and every
    /// `btt_l[i, row, :]` (over a) of a trainable core gets unit norm (norms clamped below at `eps`).
    public func normalizeAfterUpdate(eps: Float = 1e-12) {
        if right.trainable { geometry.normalizeRightCore(&right.value, eps: eps) }
        if left.trainable { geometry.normalizeLeftCore(&left.value, eps: eps) }
    }
}

extension BTTGeometry {
    /// Docs/factorization.md §15 on a right core (n, b, m·r): every column `[j, :, c]` (over b) gets unit norm (at least `eps`).
    func normalizeRightCore(_ core: inout Tensor, eps: Float) {
        let mr = m * r
        core.withUnsafeMutableBufferPointer { rp in
            for j in 0..<n {
                let base = rp.baseAddress! + j * b * mr
                for c in 0..<mr {
                    var sum: Float = 0
                    for q in 0..<b { sum += base[q * mr + c] * base[q * mr + c] }
                    let inv = 1 / max(sum.squareRoot(), eps)
                    for q in 0..<b { base[q * mr + c] *= inv }
                }
            }
        }
    }

    /// Docs/factorization.md §15 on a left core (m·n·r, a): every row (over a) gets unit norm (at least `eps`).
    func normalizeLeftCore(_ core: inout Tensor, eps: Float) {
        core.withUnsafeMutableBufferPointer { lp in
            for row in 0..<(m * n * r) {
                let base = lp.baseAddress! + row * a
                let inv = 1 / max(Kernels.sumOfSquares(base, a).squareRoot(), eps)
                Kernels.scale(base, inv, a)
            }
        }
    }
}
