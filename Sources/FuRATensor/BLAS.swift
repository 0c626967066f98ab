import CBLAS

/// Thin, checked wrappers over OpenBLAS `cblas_sgemm` for row-major matrices.
///
/// All raw pointer BLAS calls of the project go through this file.
public enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C` on row-major matrices.
    ///
    /// - Parameters: `op(A)` is M×K, `op(B)` is K×N, `C` is M×N; `lda`, `ldb`, `ldc` are row strides.
    @inlinable
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS leaves C scaled by beta when K = 0; do the same explicitly.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        let threads = Threading.threadCount
        guard threads > 1, m * n * k >= parallelThreshold, max(m, n) >= 2 * sliceAlignment,
              !Threading.insideParallelRegion else {
            serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                       a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        // Slices of C along its longer side, one per thread, on multiples of `sliceAlignment`.
        let alongRows = m >= n
        let length = alongRows ? m : n
        let slices = min(threads, length / sliceAlignment)
        Threading.parallelFor(slices) { first, end in
            for s in first..<end {
                let start = (length * s / slices) / sliceAlignment * sliceAlignment
                let stop = s == slices - 1 ? length : (length * (s + 1) / slices) / sliceAlignment * sliceAlignment
                if alongRows {
                    serialGemm(transposeA: transposeA, transposeB: transposeB, m: stop - start, n: n, k: k, alpha: alpha,
                               a: transposeA ? a + start : a + start * lda, lda: lda, b: b, ldb: ldb,
                               beta: beta, c: c + start * ldc, ldc: ldc)
                } else {
                    serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: stop - start, k: k, alpha: alpha,
                               a: a, lda: lda, b: transposeB ? b + start * ldb : b + start, ldb: ldb,
                               beta: beta, c: c + start, ldc: ldc)
                }
            }
        }
    }

    /// Products below this many multiply-adds run on one thread.
    public static let parallelThreshold = 1 << 20
    /// Slices start on multiples of this many rows or columns.
    public static let sliceAlignment = 16

    /// One single-threaded `cblas_sgemm` call (OpenBLAS is kept at one thread; see `Threading`).
    @inlinable
    static func serialGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // SAFETY: callers pass pointers covering op(A) M×K with stride lda, op(B) K×N with stride ldb, C M×N with ldc.
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The simple reference of `gemm` (triple loop, `Double` accumulation) used by the tests.
    public static func gemmReference(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    acc += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * acc + old)
            }
        }
    }
}

extension Tensor {
    /// The matrix product `op(a) · op(b)` of two 2-D tensors (op = transpose when asked).
    ///
    /// - Parameters: `a` is (M, K) or (K, M) when transposed; `b` is (K, N) or (N, K) when transposed.
    /// - Returns: (M, N).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        var out = Tensor.zeros([0, 0])
        try matmul(a, b, transposeA: transposeA, transposeB: transposeB, into: &out, accumulate: false)
        return out
    }

    /// `out (+)= op(a) · op(b)`; `out` is resized when not accumulating and its shape differs.
    public static func matmul(
        _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false,
        into out: inout Tensor, accumulate: Bool, alpha: Float = 1
    ) throws {
        let op = "matmul"
        let (ar, ac) = try a.dims2(op)
        let (br, bc) = try b.dims2(op)
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        guard k == k2 else { throw TensorError.shapeMismatch(operation: op, lhs: a.shape, rhs: b.shape) }
        if out.shape != [m, n] {
            guard !accumulate else { throw TensorError.shapeMismatch(operation: op + " (accumulate)", lhs: [m, n], rhs: out.shape) }
            out = Tensor.zeros([m, n])
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                        a: pa.baseAddress!, lda: ac, b: pb.baseAddress!, ldb: bc,
                        beta: accumulate ? 1 : 0, c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// Batched product of 3-D tensors: `out[g] = op(a[g]) · op(b[g])` for every batch index g.
    ///
    /// - Parameters: `a` is (G, M, K) (or (G, K, M) transposed), `b` is (G, K, N) (or (G, N, K)).
    /// - Returns: (G, M, N).
    public static func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        let op = "batchedMatmul"
        let (g, ar, ac) = try a.dims3(op)
        let (g2, br, bc) = try b.dims3(op)
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        guard g == g2, k == k2 else { throw TensorError.shapeMismatch(operation: op, lhs: a.shape, rhs: b.shape) }
        var out = Tensor.zeros([g, m, n])
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    for i in 0..<g {
                        BLAS.gemm(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                            a: pa.baseAddress! + i * ar * ac, lda: ac, b: pb.baseAddress! + i * br * bc, ldb: bc,
                            c: pc.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        return out
    }

    /// The transpose of a 2-D tensor.
    public func transposed() throws -> Tensor {
        let (r, c) = try dims2("transpose")
        var out = Tensor.zeros([c, r])
        withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<r { for j in 0..<c { dst[j * r + i] = src[i * c + j] } }
            }
        }
        return out
    }
}
