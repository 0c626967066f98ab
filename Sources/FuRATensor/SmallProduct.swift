// Legend: N rows of A (many), K inner dimension (small), C columns of B and of the result (small); panels of 16 columns.

/// Products whose right-hand matrix is small: `C = A · B` with A (N, K) and B (K, C), and the reduction
/// `C = Aᵀ · D` with A (N, K) and D (N, C), for K and C of a few dozen and N in the thousands.
///
/// These are the per-block products of the BTT layer (K = C = 24…148). A general sgemm runs them at about half
/// its large-matrix rate (the packing and edge handling dominate at K = 48); here B is packed once into 16-column
/// panels that stay in L1 while 8-row tiles of A stream past, 8 rows × 32 columns accumulating in registers.
/// The simple twins are `multiplyReference` and `multiplyTransposedAReference` (triple loops in `Double`).
public enum SmallProduct {
    /// Columns per packed panel (one SIMD16 vector).
    public static let panelWidth = 16
    /// Rows of A per register tile.
    public static let tileRows = 8

    /// Floats taken by B (K, C) in packed form: ⌈C/16⌉ panels of K × 16.
    @inlinable
    public static func packedCount(k: Int, columns: Int) -> Int {
        (columns + panelWidth - 1) / panelWidth * k * panelWidth
    }

    /// Packs B (K, C) into panels: `packed[(p·K + kk)·16 + lane] = B[kk, p·16 + lane]`, 0 past column C.
    ///
    /// B is taken from a source matrix S: `B = S` (S is K×C, row stride `lds`) or, when `transposed`, `B = Sᵀ`
    /// (S is C×K). When `scale` is given, each column t of S is multiplied by `scale[t]` on the way (so
    /// `B = S·diag(scale)`, or `B = (S·diag(scale))ᵀ` when transposed). `packed` holds `packedCount(k:columns:)` floats.
    public static func pack(_ s: UnsafePointer<Float>, lds: Int, k: Int, columns: Int, transposed: Bool,
                            scale: UnsafePointer<Float>?, into packed: UnsafeMutablePointer<Float>) {
        let w = panelWidth
        let panels = (columns + w - 1) / w
        for p in 0..<panels {
            let dst = packed + p * k * w
            let c0 = p * w, width = min(w, columns - c0)
            for kk in 0..<k {
                let row = dst + kk * w
                for lane in 0..<w {
                    guard lane < width else { row[lane] = 0; continue }
                    let c = c0 + lane
                    let v = transposed ? s[c * lds + kk] : s[kk * lds + c]
                    let f = scale.map { transposed ? $0[kk] : $0[c] } ?? 1
                    row[lane] = v * f
                }
            }
        }
    }

    /// C (N, C) = A (N, K) · B (+ C when `accumulate`), B packed by `pack`; one thread.
    ///
    /// - Parameters: `a` rows `lda` apart; `packed` from `pack(…k: K, columns: C…)`; `c` rows `ldc` apart.
    ///   Only the N × C elements of C are written; A is read exactly within its N × K elements.
    public static func multiply(_ a: UnsafePointer<Float>, lda: Int, rows n: Int, k: Int,
                                packed: UnsafePointer<Float>, columns: Int,
                                into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        guard n > 0, columns > 0 else { return }
        let w = panelWidth, panelStride = k * w
        let panels = (columns + w - 1) / w
        var r = 0
        while r < n {
            let rows = min(tileRows, n - r)
            let ar = a + r * lda, cr = c + r * ldc
            var p = 0
            while p < panels {
                let w0 = min(w, columns - p * w)
                if p + 1 < panels {
                    let w1 = min(w, columns - (p + 1) * w)
                    if rows == tileRows && w1 <= 8 {
                        tile8x24(ar, lda, packed + p * panelStride, k, cr + p * w, ldc, w1, accumulate)
                    } else if rows == tileRows {
                        tile8x32(ar, lda, packed + p * panelStride, k, cr + p * w, ldc, w0, w1, accumulate)
                    } else {
                        for t in 0..<rows {
                            tile1x32(ar + t * lda, packed + p * panelStride, k, cr + t * ldc + p * w, w0, w1, accumulate)
                        }
                    }
                    p += 2
                } else {
                    if rows == tileRows {
                        tile8x16(ar, lda, packed + p * panelStride, k, cr + p * w, ldc, w0, accumulate)
                    } else {
                        for t in 0..<rows {
                            tile1x16(ar + t * lda, packed + p * panelStride, k, cr + t * ldc + p * w, w0, accumulate)
                        }
                    }
                    p += 1
                }
            }
            r += rows
        }
    }

    /// The simple twin of `pack` + `multiply`: C (N, C) = A (N, K) · B (+ C), B taken from S as in `pack`.
    public static func multiplyReference(_ a: UnsafePointer<Float>, lda: Int, rows n: Int, k: Int,
                                         _ s: UnsafePointer<Float>, lds: Int, columns: Int, transposed: Bool,
                                         scale: UnsafePointer<Float>?,
                                         into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        for i in 0..<n {
            for j in 0..<columns {
                var acc = accumulate ? Double(c[i * ldc + j]) : 0
                for kk in 0..<k {
                    let v = transposed ? s[j * lds + kk] : s[kk * lds + j]
                    let f = scale.map { transposed ? $0[kk] : $0[j] } ?? 1
                    acc += Double(a[i * lda + kk]) * Double(v * f)
                }
                c[i * ldc + j] = Float(acc)
            }
        }
    }

    /// C (K, C) = Aᵀ · D (+ C when `accumulate`) with A (N, K) and D (N, C): a reduction over the N rows; one thread.
    ///
    /// - Parameters: `a` rows `lda` apart, `d` rows `ldd` apart, `c` rows `ldc` apart. Only the K × C elements of C
    ///   are written, and A and D are read only within their N × K and N × C blocks.
    public static func multiplyTransposedA(_ a: UnsafePointer<Float>, lda: Int, rows n: Int, k: Int,
                                           _ d: UnsafePointer<Float>, ldd: Int, columns: Int,
                                           into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        guard k > 0, columns > 0 else { return }
        guard n > 0 else {
            if !accumulate { for q in 0..<k { (c + q * ldc).update(repeating: 0, count: columns) } }
            return
        }
        reduceTiles(a, lda: lda, rows: n, k: k, d, ldd: ldd, columns: columns, readableEnd: d + (n - 1) * ldd + columns,
                    into: c, ldc: ldc, accumulate: accumulate)
    }

    /// C (K, C) (+)= Aᵀ · D: A (T, K) rows `lda` apart, D (T, C) rows `ldd` apart.
    ///
    /// D is loaded in whole 16-lane vectors wherever the vector ends at or before `readableEnd` (the lanes past
    /// column C are read but never used), lane by lane elsewhere.
    static func reduceTiles(_ a: UnsafePointer<Float>, lda: Int, rows: Int, k: Int, _ d: UnsafePointer<Float>, ldd: Int,
                            columns: Int, readableEnd: UnsafePointer<Float>,
                            into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let w = panelWidth
        var c0 = 0
        while c0 < columns {
            let w0 = min(w, columns - c0)
            let w1 = min(w, max(0, columns - c0 - w))
            let left = columns - c0   // three vectors at a time, except where two pairs fit better
            let triple = left > 2 * w && !(left > 3 * w && left <= 4 * w)
            let half = !triple && w1 > 0 && w1 <= 8
            // Rows t whose vectors d + t·ldd + c0 ..< + span end by readableEnd.
            let span = triple ? 3 * w : half ? w + 8 : w1 > 0 ? 2 * w : w
            let room = readableEnd - (d + c0 + span)
            let safeRows = room < 0 ? 0 : min(rows, room / max(1, ldd) + 1)
            let w2 = triple ? min(w, left - 2 * w) : 0
            var q = 0
            while q < k {
                let tile = min(tileRows, k - q)
                if tile == tileRows && triple {
                    reduce8x48(a + q, lda, rows, safeRows, d + c0, ldd, c + q * ldc + c0, ldc, w2, accumulate)
                } else if triple {
                    // Row tails of a triple: the first two vectors, then the third on its own.
                    for u in 0..<tile {
                        reduce1(a + q + u, lda, rows, safeRows, d + c0, ldd, c + (q + u) * ldc + c0, w0, w1, accumulate)
                        reduce1(a + q + u, lda, rows, safeRows, d + c0 + 2 * w, ldd, c + (q + u) * ldc + c0 + 2 * w, w2, 0, accumulate)
                    }
                } else if tile == tileRows && half {
                    reduce8x24(a + q, lda, rows, safeRows, d + c0, ldd, c + q * ldc + c0, ldc, w1, accumulate)
                } else if tile == tileRows {
                    reduce8(a + q, lda, rows, safeRows, d + c0, ldd, c + q * ldc + c0, ldc, w0, w1, accumulate)
                } else {
                    for u in 0..<tile {
                        reduce1(a + q + u, lda, rows, safeRows, d + c0, ldd, c + (q + u) * ldc + c0, w0, w1, accumulate)
                    }
                }
                q += tile
            }
            c0 += triple ? 2 * w + w2 : w0 + w1
        }
    }

    /// dst[0..<count] = src[0..<count], then zeros up to `padTo`; whole vectors while they fit.
    @inline(__always)
    static func copyRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, padTo: Int) {
        var j = 0
        while j + 16 <= count {
            UnsafeMutableRawPointer(dst + j).storeBytes(of: load(src + j), as: V.self)
            j += 16
        }
        while j < count { dst[j] = src[j]; j += 1 }
        while j < padTo { dst[j] = 0; j += 1 }
    }

    /// The simple twin of `multiplyTransposedA`.
    public static func multiplyTransposedAReference(_ a: UnsafePointer<Float>, lda: Int, rows n: Int, k: Int,
                                                    _ d: UnsafePointer<Float>, ldd: Int, columns: Int,
                                                    into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        for q in 0..<k {
            for j in 0..<columns {
                var acc = accumulate ? Double(c[q * ldc + j]) : 0
                for t in 0..<n { acc += Double(a[t * lda + q]) * Double(d[t * ldd + j]) }
                c[q * ldc + j] = Float(acc)
            }
        }
    }
}
