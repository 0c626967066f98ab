import CBLAS

/// Repeated thin SVDs of one M×N shape in `Double`, straight through LAPACK's column-major `dgesdd`
/// with buffers allocated once (no LAPACKE transposes, no per-call allocation).
///
/// Gives the same factors as `LAPACK.svd(_:precision: .double)` (same routine, same input layout after
/// LAPACKE's transpose, same optimal workspace, same canonical signs). One workspace per thread.
public final class SVDWorkspace {
    public let rows: Int
    public let columns: Int
    /// k = min(M, N).
    public let rank: Int
    /// A, column-major M×N (overwritten by each factorization).
    public private(set) var a: [Double]
    /// Singular values (k,), descending.
    public private(set) var s: [Double]
    /// U, column-major M×k: U[r, c] = u[r + c·M].
    public private(set) var u: [Double]
    /// Vᵀ, column-major k×N: Vᵀ[c, q] = vt[c + q·k].
    public private(set) var vt: [Double]
    private var work: [Double]
    private var iwork: [Int32]

    /// Allocates buffers and queries the optimal workspace for M×N.
    public init(rows m: Int, columns n: Int) throws {
        guard m > 0, n > 0 else { throw TensorError.invalidArgument(operation: "SVDWorkspace", message: "empty shape \(m)×\(n)") }
        rows = m; columns = n; rank = min(m, n)
        a = [Double](repeating: 0, count: m * n)
        s = [Double](repeating: 0, count: rank)
        u = [Double](repeating: 0, count: m * rank)
        vt = [Double](repeating: 0, count: rank * n)
        iwork = [Int32](repeating: 0, count: 8 * rank)
        work = [0]
        var query = 0.0
        let info = call(work: &query, lwork: -1)
        guard info == 0 else { throw TensorError.lapackFailure(routine: "dgesdd (workspace query)", info: Int(info)) }
        work = [Double](repeating: 0, count: max(1, Int(query)))
    }

    private func call(work w: UnsafeMutablePointer<Double>, lwork: Int32) -> Int32 {
        var jobz = Int8(UInt8(ascii: "S"))
        var m = Int32(rows), n = Int32(columns), lda = Int32(rows), ldu = Int32(rows), ldvt = Int32(rank)
        var lw = lwork, info: Int32 = 0
        // SAFETY: column-major A is M×N (lda M), U is M×k (ldu M), Vᵀ is k×N (ldvt k); work holds lwork doubles,
        // iwork 8k ints; the trailing 1 is the hidden Fortran length of `jobz`.
        dgesdd_(&jobz, &m, &n, &a, &lda, &s, &u, &ldu, &vt, &ldvt, w, &lw, &iwork, &info, 1)
        return info
    }

    /// Factors the matrix that `fill` writes into the column-major buffer (`A[r, c]` at `r + c·M`), then makes
    /// the signs canonical: the largest-magnitude entry of each U column (first on ties) is positive.
    public func factor(_ fill: (UnsafeMutablePointer<Double>) -> Void) throws {
        a.withUnsafeMutableBufferPointer { fill($0.baseAddress!) }
        guard a.allSatisfy({ $0.isFinite }) else {
            throw TensorError.invalidArgument(operation: "svd", message: "matrix [\(rows), \(columns)] has non-finite entries")
        }
        let lwork = Int32(work.count)
        let info = work.withUnsafeMutableBufferPointer { call(work: $0.baseAddress!, lwork: lwork) }
        guard info == 0 else { throw TensorError.lapackFailure(routine: "dgesdd", info: Int(info)) }
        for c in 0..<rank {
            var best = 0
            var bestAbs = -1.0
            // Compare in Float, as `LAPACK.svd` does after its conversion, so both pick the same entry.
            for r in 0..<rows where Double(abs(Float(u[c * rows + r]))) > bestAbs {
                bestAbs = Double(abs(Float(u[c * rows + r]))); best = r
            }
            if Float(u[c * rows + best]) < 0 {
                for r in 0..<rows { u[c * rows + r] = -u[c * rows + r] }
                for q in 0..<columns { vt[c + q * rank] = -vt[c + q * rank] }
            }
        }
    }
}
