import CBLAS

/// The precision in which a factorization runs; results are always returned in `Float`.
public enum FactorizationPrecision: String, Sendable, Codable {
    case float, double
}

/// A thin singular value decomposition `A = U · diag(S) · Vᵀ` of an M×N matrix, k = min(M, N).
public struct ThinSVD: Sendable {
    /// (M, k), orthonormal columns.
    public var u: Tensor
    /// (k,), non-negative, descending.
    public var s: Tensor
    /// (k, N), orthonormal rows.
    public var vt: Tensor
}

/// A reduced QR decomposition `A = Q · R` of an M×N matrix, k = min(M, N).
public struct ThinQR: Sendable {
    /// (M, k), orthonormal columns.
    public var q: Tensor
    /// (k, N), upper trapezoidal.
    public var r: Tensor
}

/// LAPACK factorizations. The raw LAPACK calls of the project are in this file and in the reused workspaces of the
/// block conversion (`SVDWorkspace`, `TallSVDWorkspace`).
public enum LAPACK {
    /// Thin SVD through `?gesdd`, with canonical signs: in every column of U the entry of largest
    /// magnitude (first one on ties) is made positive, and the matching row of Vᵀ flips with it,
    /// so the same matrix always gives the same factors.
    ///
    /// - Parameter matrix: (M, N).
    public static func svd(_ matrix: Tensor, precision: FactorizationPrecision = .double) throws -> ThinSVD {
        let (m, n) = try matrix.dims2("svd")
        let k = min(m, n)
        guard k > 0 else { throw TensorError.invalidArgument(operation: "svd", message: "empty matrix \(matrix.shape)") }
        guard matrix.storage.allSatisfy({ $0.isFinite }) else {
            throw TensorError.invalidArgument(operation: "svd", message: "matrix \(matrix.shape) has non-finite entries")
        }
        var u = [Float](repeating: 0, count: m * k)
        var s = [Float](repeating: 0, count: k)
        var vt = [Float](repeating: 0, count: k * n)
        switch precision {
        case .double:
            var a = matrix.storage.map(Double.init)
            var ud = [Double](repeating: 0, count: m * k)
            var sd = [Double](repeating: 0, count: k)
            var vd = [Double](repeating: 0, count: k * n)
            // SAFETY: row-major A is M×N (lda N), U is M×k (ldu k), Vᵀ is k×N (ldvt N), arrays sized to match.
            let info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(m), Int32(n), &a, Int32(n),
                                      &sd, &ud, Int32(k), &vd, Int32(n))
            guard info == 0 else { throw TensorError.lapackFailure(routine: "dgesdd", info: Int(info)) }
            u = ud.map(Float.init); s = sd.map(Float.init); vt = vd.map(Float.init)
        case .float:
            var a = matrix.storage
            // SAFETY: as above, in single precision.
            let info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(m), Int32(n), &a, Int32(n),
                                      &s, &u, Int32(k), &vt, Int32(n))
            guard info == 0 else { throw TensorError.lapackFailure(routine: "sgesdd", info: Int(info)) }
        }
        canonicalizeSigns(u: &u, vt: &vt, m: m, n: n, k: k)
        return ThinSVD(u: Tensor(unchecked: [m, k], u), s: Tensor(unchecked: [k], s), vt: Tensor(unchecked: [k, n], vt))
    }

    /// Flips singular vector pairs so that the largest-magnitude entry of each U column is positive.
    static func canonicalizeSigns(u: inout [Float], vt: inout [Float], m: Int, n: Int, k: Int) {
        for c in 0..<k {
            var best = 0
            var bestAbs: Float = -1
            for r in 0..<m where abs(u[r * k + c]) > bestAbs {
                bestAbs = abs(u[r * k + c]); best = r
            }
            if u[best * k + c] < 0 {
                for r in 0..<m { u[r * k + c] = -u[r * k + c] }
                for j in 0..<n { vt[c * n + j] = -vt[c * n + j] }
            }
        }
    }

    /// Reduced QR through `dgeqrf` + `dorgqr` (always in `Double`).
    ///
    /// - Parameter matrix: (M, N). Returns Q (M, k) and R (k, N), k = min(M, N).
    public static func qr(_ matrix: Tensor) throws -> ThinQR {
        let (m, n) = try matrix.dims2("qr")
        let k = min(m, n)
        guard k > 0 else { throw TensorError.invalidArgument(operation: "qr", message: "empty matrix \(matrix.shape)") }
        guard matrix.storage.allSatisfy({ $0.isFinite }) else {
            throw TensorError.invalidArgument(operation: "qr", message: "matrix \(matrix.shape) has non-finite entries")
        }
        var a = matrix.storage.map(Double.init)
        var tau = [Double](repeating: 0, count: k)
        // SAFETY: row-major A is M×N with lda N; tau holds k reflectors.
        var info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), &a, Int32(n), &tau)
        guard info == 0 else { throw TensorError.lapackFailure(routine: "dgeqrf", info: Int(info)) }
        var r = [Float](repeating: 0, count: k * n)
        for i in 0..<k { for j in i..<n { r[i * n + j] = Float(a[i * n + j]) } }
        // Q: the first k columns of the reflector product; copy the M×k leading part with lda k.
        var qd = [Double](repeating: 0, count: m * k)
        for i in 0..<m { for j in 0..<k { qd[i * k + j] = a[i * n + j] } }
        // SAFETY: Q is M×k row-major (lda k), built from k reflectors.
        info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(k), Int32(k), &qd, Int32(k), &tau)
        guard info == 0 else { throw TensorError.lapackFailure(routine: "dorgqr", info: Int(info)) }
        return ThinQR(q: Tensor(unchecked: [m, k], qd.map(Float.init)), r: Tensor(unchecked: [k, n], r))
    }
}
