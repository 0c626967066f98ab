import FuRANN
import FuRATensor

// Legend: N rows; m output blocks of size a (O = m·a); n input blocks of size b (I = n·b); r rank per block.

/// How a BTT layer runs its n per-input-block products `H_j = x_j · R'_j`, `dX_j = dH_j · R'_jᵀ`, `P_j = x_jᵀ · dH_j`.
public enum BTTBlockProducts: Sendable {
    /// `SmallProduct`'s packed SIMD kernels: R'_j packed once per step, rows of x and dH read once.
    case packed
    /// One serial sgemm per block (the simple twin; also the path for shapes the packed kernels are not built for).
    case blas

    /// Packed kernels when the blocks are many and small (b and m·r at most 256), as in `output_one_block`.
    public static func preferred(for g: BTTGeometry) -> BTTBlockProducts {
        g.n >= 2 && g.b <= 256 && g.m * g.r <= 256 ? .packed : .blas
    }
}

extension BTTLayer {
    /// y = Z·L with H_j = x_j · R'_j (the block products) and Z = H permuted to (N, m, n·r); returns y (no bias) and Z.
    func blockForward(_ rows: Tensor, packed: Bool) -> (Tensor, Tensor) {
        let g = geometry
        let count = rows.shape[0]
        let mr = g.m * g.r, nr = g.n * g.r, width = g.n * mr
        // H (N, n, m·r): H_j = x_j · R'_j for each input block j.
        var h = Self.take(&scratchForward, [count, width])   // every element is written below
        if packed {
            packRight(transposed: false, into: &packedRight)
            packedForwardProducts(rows, packed: packedRight, into: &h)
        } else {
            Self.blockLeftProducts(x: rows, rPrime: scaledRight(), geometry: g, count: count, into: &h)
        }
        // Z (N, m, n·r): Z[·, i, j·r+k] = H[·, j, i·r+k]; the same layout when m = 1.
        let z = g.m == 1 ? h : Self.permuteBlocks(h, rows: count, outer: g.n, inner: g.m, r: g.r)
        var y = Tensor.unfilled([count, g.outFeatures])   // every element is written below (beta = 0)
        z.withUnsafeBufferPointer { zp in
            left.value.withUnsafeBufferPointer { lp in
                y.withUnsafeMutableBufferPointer { yp in
                    // SAFETY: Z_i is N×n·r at column i·n·r (ld m·n·r); L_i is n·r×a; y_i is N×a at column i·a (ld O).
                    Self.forEachBlock(g.m) { i in
                        BLAS.gemm(transposeA: false, transposeB: false, m: count, n: g.a, k: nr,
                                  a: zp.baseAddress! + i * nr, lda: width,
                                  b: lp.baseAddress! + i * nr * g.a, ldb: g.a,
                                  c: yp.baseAddress! + i * g.a, ldc: g.outFeatures)
                    }
                }
            }
        }
        if g.m > 1 { scratchForward = h }
        return (y, z)
    }

    /// H (N, n·m·r) = [x_j · R'_j]_j, one serial sgemm per block, side by side. x (N, I); R' (n, b, m·r).
    /// Shared by `QBTTLayer`.
    static func blockLeftProducts(x: Tensor, rPrime: Tensor, geometry g: BTTGeometry, count: Int, into h: inout Tensor) {
        let mr = g.m * g.r, width = g.n * mr
        x.withUnsafeBufferPointer { xp in
            rPrime.withUnsafeBufferPointer { rp in
                h.withUnsafeMutableBufferPointer { hp in
                    // SAFETY: x_j is N×b at column j·b of x (ld I); R'_j is b×m·r; H_j is N×m·r at column j·m·r (ld n·m·r).
                    forEachBlock(g.n) { j in
                        BLAS.gemm(transposeA: false, transposeB: false, m: count, n: mr, k: g.b,
                                  a: xp.baseAddress! + j * g.b, lda: g.inFeatures,
                                  b: rp.baseAddress! + j * g.b * mr, ldb: mr,
                                  c: hp.baseAddress! + j * mr, ldc: width)
                    }
                }
            }
        }
    }

    /// R'_j = btt_r[j] · diag(s[·, j, ·]) (b × m·r) for every block j, packed for `SmallProduct`: as the right-hand
    /// matrix of `x_j · R'_j` (K = b, C = m·r), or, when `transposed`, of `dH_j · R'_jᵀ` (K = m·r, C = b).
    func packRight(transposed: Bool, into buffer: inout [Float]) {
        let g = geometry, mr = g.m * g.r
        let (k, c) = transposed ? (mr, g.b) : (g.b, mr)
        let per = SmallProduct.packedCount(k: k, columns: c)
        if buffer.count != g.n * per { buffer = [Float](repeating: 0, count: g.n * per) }
        // s for the m·r columns of block j: s[i, j, k] at column i·r + k.
        var scale = [Float](repeating: 1, count: mr)
        right.value.withUnsafeBufferPointer { rp in
            buffer.withUnsafeMutableBufferPointer { bp in
                for j in 0..<g.n {
                    if let s = singular?.value {
                        for i in 0..<g.m { for kk in 0..<g.r { scale[i * g.r + kk] = s.storage[(i * g.n + j) * g.r + kk] } }
                    }
                    scale.withUnsafeBufferPointer { sp in
                        // SAFETY: btt_r[j] is b × m·r at j·b·m·r; block j's panels take `per` floats.
                        SmallProduct.pack(rp.baseAddress! + j * g.b * mr, lds: mr, k: k, columns: c, transposed: transposed,
                                          scale: singular == nil ? nil : sp.baseAddress!, into: bp.baseAddress! + j * per)
                    }
                }
            }
        }
    }

    /// H (N, n·m·r) = [x_j · R'_j]_j with the packed kernels. x (N, I) rows; `packed` from `packRight(transposed: false)`.
    func packedForwardProducts(_ x: Tensor, packed: [Float], into h: inout Tensor) {
        let g = geometry, mr = g.m * g.r, count = x.count / g.inFeatures
        x.withUnsafeBufferPointer { xp in
            packed.withUnsafeBufferPointer { pp in
                h.withUnsafeMutableBufferPointer { hp in
                    // SAFETY: x is N × I; H is N × n·m·r; block j reads columns j·b.. of x and writes columns j·m·r.. of H.
                    SmallProduct.blockDiagonal(blocks: g.n, rows: count, k: g.b, columns: mr,
                                               x: xp.baseAddress!, ldx: g.inFeatures, packed: pp.baseAddress!,
                                               y: hp.baseAddress!, ldy: g.n * mr)
                }
            }
        }
    }

    /// dX (N, I) = [dH_j · R'_jᵀ]_j and, when `x` is given, P_j = x_jᵀ · dH_j (the gradient of R'), in one pass over dH.
    ///
    /// - Parameters: `dh` (N, n·m·r); `packedTransposed` from `packRight(transposed: true)`; `x` (N, I) or nil.
    ///   With no S the right core's gradient receives P directly; otherwise P goes through `accumulateFromProducts`.
    func packedBackwardProducts(_ dh: Tensor, packedTransposed: [Float], x: Tensor?) throws -> Tensor {
        let g = geometry, mr = g.m * g.r, count = dh.count / (g.n * mr)
        var dX = Tensor.unfilled([count, g.inFeatures])
        let direct = singular == nil && right.trainable
        var p = x != nil && !direct ? Tensor.unfilled(g.rightShape) : Tensor.zeros([0])
        func run(_ gradient: UnsafeMutablePointer<Float>?, _ xp: UnsafePointer<Float>) {
            dh.withUnsafeBufferPointer { hp in
                packedTransposed.withUnsafeBufferPointer { pp in
                    dX.withUnsafeMutableBufferPointer { dp in
                        // SAFETY: dH is N × n·m·r, dX and x are N × I, the gradient is n × b × m·r (b × m·r per block).
                        SmallProduct.blockDiagonalBackward(blocks: g.n, rows: count, k: g.b, columns: mr,
                                                           dy: hp.baseAddress!, lddy: g.n * mr,
                                                           packedTransposed: pp.baseAddress!,
                                                           dx: dp.baseAddress!, lddx: g.inFeatures,
                                                           x: xp, ldx: g.inFeatures, gradient: gradient, accumulate: direct)
                    }
                }
            }
        }
        if let x {
            x.withUnsafeBufferPointer { xp in
                if direct {
                    right.gradient!.withUnsafeMutableBufferPointer { run($0.baseAddress!, xp.baseAddress!) }
                } else {
                    p.withUnsafeMutableBufferPointer { run($0.baseAddress!, xp.baseAddress!) }
                }
            }
            if !direct { try accumulateFromProducts(p) }
        } else {
            dh.withUnsafeBufferPointer { run(nil, $0.baseAddress!) }   // x is not read without a gradient
        }
        return dX
    }
}

