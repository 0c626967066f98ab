import CBLAS

/// Repeated thin SVDs of one tall M×N shape (M ≥ N) in `Double` through the eigendecomposition of the Gram matrix:
/// the M-sized work is two level-3 BLAS calls (`dsyrk`, `dgemm`), where `dgesdd`'s own QR of a narrow block runs as
/// unblocked level-2 updates, and the N×N part is a symmetric eigenproblem (`dsyevd`), about half the cost of an N×N SVD.
///
/// Steps: `G = AᵀA = V·diag(S²)·Vᵀ` (`dsyrk`, `dsyevd`, eigenvalues reordered to descending), then
/// `U = A·V·diag(S)⁻¹` (`dgemm`). Forming `AᵀA` squares the condition number: the factors differ from `dgesdd`'s by
/// about ε·κ²/gap (relative), under 10⁻¹¹ for κ ≤ 100 in `Double`, so after the conversion to `Float` they agree to a
/// last-bit rounding. Blocks with κ > `conditionLimit` (nearly rank-deficient) take the plain `SVDWorkspace` path,
/// which is `LAPACK.svd`'s routine. Signs are made canonical as in `LAPACK.svd`. One workspace per thread.
public final class TallSVDWorkspace {
    public let rows: Int
    public let columns: Int
    /// Blocks whose condition number (σ₁/σ_N = √(λ_max/λ_min) of the Gram matrix) exceeds this take the `dgesdd` path.
    /// FuRA's blocks of real models sit far below it (SmolLM2-135M: at most 26).
    public static let conditionLimit = 100.0
    /// A, row-major M×N (`A[p, q]` at `p·N + q`), written by `factor`'s `fill`.
    private var a: [Double]
    /// Singular values (N,), descending.
    public private(set) var s: [Double]
    /// U, column-major M×N: U[p, c] = u[p + c·M].
    public private(set) var u: [Double]
    /// Vᵀ, column-major N×N: Vᵀ[c, q] = vt[c + q·N].
    public private(set) var vt: [Double]
    /// Whether the last `factor` call took the `dgesdd` path.
    public private(set) var usedFallback = false
    /// The Gram matrix AᵀA (upper triangle), then its eigenvectors (ascending eigenvalues), column-major N×N.
    private var g: [Double]
    /// The eigenvalues of G, ascending (N,).
    private var lambda: [Double]
    /// V·diag(S)⁻¹, column-major N×N.
    private var scaledV: [Double]
    private var work: [Double]
    private var iwork: [Int32]
    private var fallback: SVDWorkspace?

    /// Allocates buffers and queries `dsyevd`'s workspace for N×N. Requires M ≥ N > 0.
    public init(rows m: Int, columns n: Int) throws {
        guard n > 0, m >= n else {
            throw TensorError.invalidArgument(operation: "TallSVDWorkspace", message: "needs rows ≥ columns > 0, got \(m)×\(n)")
        }
        rows = m; columns = n
        a = [Double](repeating: 0, count: m * n)
        u = a
        s = [Double](repeating: 0, count: n)
        vt = [Double](repeating: 0, count: n * n)
        g = vt; scaledV = vt; lambda = s
        var query = 0.0
        var iquery: Int32 = 0
        // SAFETY: workspace query only (lwork, liwork −1) for an N×N symmetric eigenproblem with vectors.
        let info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")), Int32(n), &g, Int32(n),
                                       &lambda, &query, -1, &iquery, -1)
        guard info == 0 else { throw TensorError.lapackFailure(routine: "dsyevd (workspace query)", info: Int(info)) }
        work = [Double](repeating: 0, count: max(1, Int(query)))
        iwork = [Int32](repeating: 0, count: max(1, Int(iquery)))
    }

    /// Factors the matrix that `fill` writes into the row-major buffer (`A[p, q]` at `p·N + q`), then makes the signs
    /// canonical: the largest-magnitude entry of each U column (compared in `Float`, first on ties) is positive.
    public func factor(_ fill: (UnsafeMutablePointer<Double>) -> Void) throws {
        a.withUnsafeMutableBufferPointer { fill($0.baseAddress!) }
        if try factorThroughGram() {
            usedFallback = false
        } else {
            usedFallback = true
            try factorWithDGESDD()
        }
        canonicalizeSigns()
    }

    /// The Gram path; false when the block must take the `dgesdd` path instead. Leaves `a` unchanged.
    private func factorThroughGram() throws -> Bool {
        let (m, n) = (Int32(rows), Int32(columns))
        let nn = columns
        // G = AᵀA: A row-major M×N is column-major Aᵀ (N×M, ld N), so G = Aᵀ·(Aᵀ)ᵀ, upper triangle.
        // SAFETY: `a` holds M·N doubles, `g` N·N.
        cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, n, m, 1, a, n, 0, &g, n)
        // Non-finite input shows in the diagonal (a sum of squares); squares of `Float`-range values cannot overflow.
        for q in 0..<nn where !g[q * nn + q].isFinite {
            if a.contains(where: { !$0.isFinite }) {
                throw TensorError.invalidArgument(operation: "svd", message: "matrix [\(rows), \(columns)] has non-finite entries")
            }
            return false
        }
        // SAFETY: buffers sized by the workspace query in `init`.
        let info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, Int8(UInt8(ascii: "V")), Int8(UInt8(ascii: "U")), n, &g, n, &lambda,
                                       &work, Int32(work.count), &iwork, Int32(iwork.count))
        let (largest, smallest) = (lambda[nn - 1], lambda[0])
        guard info == 0, smallest > 0, largest <= Self.conditionLimit * Self.conditionLimit * smallest else { return false }
        // Descending order: S[c] = √λ[N−1−c], V[:, c] = eigenvector N−1−c.
        for c in 0..<nn {
            let e = nn - 1 - c
            let sigma = lambda[e].squareRoot()
            s[c] = sigma
            for q in 0..<nn {
                let v = g[q + e * nn]
                vt[c + q * nn] = v
                scaledV[q + c * nn] = v / sigma
            }
        }
        // U (column-major M×N) = A·V·diag(S)⁻¹ = (Aᵀ)ᵀ·scaledV.
        // SAFETY: `a` is N×M column-major (ld N), `scaledV` N×N (ld N), `u` M×N (ld M).
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, n, n, 1, a, n, scaledV, n, 0, &u, m)
        return true
    }

    /// The `dgesdd` path on the original block (the same routine and layout as `LAPACK.svd`).
    private func factorWithDGESDD() throws {
        let (m, n) = (rows, columns)
        if fallback == nil { fallback = try SVDWorkspace(rows: m, columns: n) }
        guard let ws = fallback else { return }
        try a.withUnsafeBufferPointer { rowMajor in
            try ws.factor { col in
                for p in 0..<m { for q in 0..<n { col[p + q * m] = rowMajor[p * n + q] } }
            }
        }
        // SVDWorkspace's factors are already canonical; copy them (same layouts: U M×N and Vᵀ N×N, column-major).
        s = ws.s; u = ws.u; vt = ws.vt
    }

    /// Flips singular vector pairs so that the largest-magnitude entry of each U column is positive.
    ///
    /// Same rule as `LAPACK.canonicalizeSigns` (magnitudes compared after rounding to `Float`, first on ties), in two
    /// vectorized passes: the column's largest |x| (rounding to `Float` is monotone, so its rounding is the largest
    /// rounded magnitude), then the first entry whose rounded magnitude equals it.
    private func canonicalizeSigns() {
        let (m, n) = (rows, columns)
        u.withUnsafeMutableBufferPointer { u in
            vt.withUnsafeMutableBufferPointer { vt in
                for c in 0..<n {
                    let column = u.baseAddress! + c * m
                    let target = abs(Float(Self.maxMagnitude(column, count: m)))
                    var best = 0
                    while best < m - 1 && abs(Float(column[best])) != target { best += 1 }
                    if Float(column[best]) < 0 {
                        for p in 0..<m { column[p] = -column[p] }
                        for q in 0..<n { vt[c + q * n] = -vt[c + q * n] }
                    }
                }
            }
        }
    }

    /// max |x[i]| over `count` values (SIMD8 lanes, then the tail).
    static func maxMagnitude(_ x: UnsafePointer<Double>, count: Int) -> Double {
        var lanes = SIMD8<Double>(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self)
            let magnitude = v.replacing(with: -v, where: v .< 0)
            lanes = lanes.replacing(with: magnitude, where: magnitude .> lanes)
            i += 8
        }
        var best = lanes.max()
        while i < count { best = Swift.max(best, abs(x[i])); i += 1 }
        return best
    }
}
