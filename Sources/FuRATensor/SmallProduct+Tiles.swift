// Legend: K inner dimension; panels of 16 columns (p0 at `p`, p1 at `p + K·16`); w0, w1 valid lanes of each panel.

extension SmallProduct {
    typealias V = SIMD16<Float>
    typealias H = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    /// The first `width` lanes at p (the rest 0), element by element: never reads past p[width − 1].
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, _ width: Int) -> V {
        var v = V()
        for j in 0..<width { v[j] = p[j] }
        return v
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> H { UnsafeRawPointer(p).loadUnaligned(as: H.self) }

    /// The first `width` (≤ 8) lanes at p (the rest 0), element by element.
    @inline(__always)
    static func loadPartial8(_ p: UnsafePointer<Float>, _ width: Int) -> H {
        var v = H()
        for j in 0..<width { v[j] = p[j] }
        return v
    }

    /// Stores (or adds, when `accumulate`) the first `width` (≤ 8) lanes of v at c.
    @inline(__always)
    static func put8(_ v: H, _ c: UnsafeMutablePointer<Float>, _ width: Int, _ accumulate: Bool) {
        if width == 8 {
            let out = accumulate ? v + load8(UnsafePointer(c)) : v
            UnsafeMutableRawPointer(c).storeBytes(of: out, as: H.self)
        } else {
            for j in 0..<width { c[j] = accumulate ? c[j] + v[j] : v[j] }
        }
    }

    /// Stores (or adds, when `accumulate`) the first `width` lanes of v at c.
    @inline(__always)
    static func put(_ v: V, _ c: UnsafeMutablePointer<Float>, _ width: Int, _ accumulate: Bool) {
        if width == 16 {
            let out = accumulate ? v + load(UnsafePointer(c)) : v
            UnsafeMutableRawPointer(c).storeBytes(of: out, as: V.self)
        } else {
            for j in 0..<width { c[j] = accumulate ? c[j] + v[j] : v[j] }
        }
    }

    /// C[0..<8, 0..<32] (+)= A[0..<8, 0..<K] · [p0 p1]: 16 accumulators, 2 panel loads and 8 broadcasts per k.
    @inline(__always)
    static func tile8x32(_ a: UnsafePointer<Float>, _ lda: Int, _ p: UnsafePointer<Float>, _ k: Int,
                         _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ w0: Int, _ w1: Int, _ accumulate: Bool) {
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
        let q = p + k * 16
        let (x0, x1, x2, x3) = (a, a + lda, a + 2 * lda, a + 3 * lda)
        let (x4, x5, x6, x7) = (a + 4 * lda, a + 5 * lda, a + 6 * lda, a + 7 * lda)
        for kk in 0..<k {
            let u = load(p + kk * 16), v = load(q + kk * 16)
            var s = V(repeating: x0[kk]); c00 = c00.addingProduct(u, s); c01 = c01.addingProduct(v, s)
            s = V(repeating: x1[kk]); c10 = c10.addingProduct(u, s); c11 = c11.addingProduct(v, s)
            s = V(repeating: x2[kk]); c20 = c20.addingProduct(u, s); c21 = c21.addingProduct(v, s)
            s = V(repeating: x3[kk]); c30 = c30.addingProduct(u, s); c31 = c31.addingProduct(v, s)
            s = V(repeating: x4[kk]); c40 = c40.addingProduct(u, s); c41 = c41.addingProduct(v, s)
            s = V(repeating: x5[kk]); c50 = c50.addingProduct(u, s); c51 = c51.addingProduct(v, s)
            s = V(repeating: x6[kk]); c60 = c60.addingProduct(u, s); c61 = c61.addingProduct(v, s)
            s = V(repeating: x7[kk]); c70 = c70.addingProduct(u, s); c71 = c71.addingProduct(v, s)
        }
        put(c00, c, w0, accumulate); put(c01, c + 16, w1, accumulate)
        put(c10, c + ldc, w0, accumulate); put(c11, c + ldc + 16, w1, accumulate)
        put(c20, c + 2 * ldc, w0, accumulate); put(c21, c + 2 * ldc + 16, w1, accumulate)
        put(c30, c + 3 * ldc, w0, accumulate); put(c31, c + 3 * ldc + 16, w1, accumulate)
        put(c40, c + 4 * ldc, w0, accumulate); put(c41, c + 4 * ldc + 16, w1, accumulate)
        put(c50, c + 5 * ldc, w0, accumulate); put(c51, c + 5 * ldc + 16, w1, accumulate)
        put(c60, c + 6 * ldc, w0, accumulate); put(c61, c + 6 * ldc + 16, w1, accumulate)
        put(c70, c + 7 * ldc, w0, accumulate); put(c71, c + 7 * ldc + 16, w1, accumulate)
    }

    /// `tile8x32` when the second panel holds at most 8 columns (C = 24 blocks): its half runs on 8-lane vectors,
    /// which take half the issue slots of 16-lane ones.
    @inline(__always)
    static func tile8x24(_ a: UnsafePointer<Float>, _ lda: Int, _ p: UnsafePointer<Float>, _ k: Int,
                         _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ w1: Int, _ accumulate: Bool) {
        var c00 = V(), c10 = V(), c20 = V(), c30 = V(), c40 = V(), c50 = V(), c60 = V(), c70 = V()
        var c01 = H(), c11 = H(), c21 = H(), c31 = H(), c41 = H(), c51 = H(), c61 = H(), c71 = H()
        let q = p + k * 16
        let (x0, x1, x2, x3) = (a, a + lda, a + 2 * lda, a + 3 * lda)
        let (x4, x5, x6, x7) = (a + 4 * lda, a + 5 * lda, a + 6 * lda, a + 7 * lda)
        for kk in 0..<k {
            let u = load(p + kk * 16), v = load8(q + kk * 16)
            c00 = c00.addingProduct(u, V(repeating: x0[kk])); c01 = c01.addingProduct(v, H(repeating: x0[kk]))
            c10 = c10.addingProduct(u, V(repeating: x1[kk])); c11 = c11.addingProduct(v, H(repeating: x1[kk]))
            c20 = c20.addingProduct(u, V(repeating: x2[kk])); c21 = c21.addingProduct(v, H(repeating: x2[kk]))
            c30 = c30.addingProduct(u, V(repeating: x3[kk])); c31 = c31.addingProduct(v, H(repeating: x3[kk]))
            c40 = c40.addingProduct(u, V(repeating: x4[kk])); c41 = c41.addingProduct(v, H(repeating: x4[kk]))
            c50 = c50.addingProduct(u, V(repeating: x5[kk])); c51 = c51.addingProduct(v, H(repeating: x5[kk]))
            c60 = c60.addingProduct(u, V(repeating: x6[kk])); c61 = c61.addingProduct(v, H(repeating: x6[kk]))
            c70 = c70.addingProduct(u, V(repeating: x7[kk])); c71 = c71.addingProduct(v, H(repeating: x7[kk]))
        }
        put(c00, c, 16, accumulate); put8(c01, c + 16, w1, accumulate)
        put(c10, c + ldc, 16, accumulate); put8(c11, c + ldc + 16, w1, accumulate)
        put(c20, c + 2 * ldc, 16, accumulate); put8(c21, c + 2 * ldc + 16, w1, accumulate)
        put(c30, c + 3 * ldc, 16, accumulate); put8(c31, c + 3 * ldc + 16, w1, accumulate)
        put(c40, c + 4 * ldc, 16, accumulate); put8(c41, c + 4 * ldc + 16, w1, accumulate)
        put(c50, c + 5 * ldc, 16, accumulate); put8(c51, c + 5 * ldc + 16, w1, accumulate)
        put(c60, c + 6 * ldc, 16, accumulate); put8(c61, c + 6 * ldc + 16, w1, accumulate)
        put(c70, c + 7 * ldc, 16, accumulate); put8(c71, c + 7 * ldc + 16, w1, accumulate)
    }

    /// C[0..<8, 0..<16] (+)= A[0..<8, 0..<K] · p0, with two accumulators per row over even and odd k.
    @inline(__always)
    static func tile8x16(_ a: UnsafePointer<Float>, _ lda: Int, _ p: UnsafePointer<Float>, _ k: Int,
                         _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ w0: Int, _ accumulate: Bool) {
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V(), c6 = V(), c7 = V()
        var d0 = V(), d1 = V(), d2 = V(), d3 = V(), d4 = V(), d5 = V(), d6 = V(), d7 = V()
        let (x0, x1, x2, x3) = (a, a + lda, a + 2 * lda, a + 3 * lda)
        let (x4, x5, x6, x7) = (a + 4 * lda, a + 5 * lda, a + 6 * lda, a + 7 * lda)
        var kk = 0
        while kk + 2 <= k {
            let u = load(p + kk * 16), v = load(p + kk * 16 + 16)
            c0 = c0.addingProduct(u, V(repeating: x0[kk])); d0 = d0.addingProduct(v, V(repeating: x0[kk + 1]))
            c1 = c1.addingProduct(u, V(repeating: x1[kk])); d1 = d1.addingProduct(v, V(repeating: x1[kk + 1]))
            c2 = c2.addingProduct(u, V(repeating: x2[kk])); d2 = d2.addingProduct(v, V(repeating: x2[kk + 1]))
            c3 = c3.addingProduct(u, V(repeating: x3[kk])); d3 = d3.addingProduct(v, V(repeating: x3[kk + 1]))
            c4 = c4.addingProduct(u, V(repeating: x4[kk])); d4 = d4.addingProduct(v, V(repeating: x4[kk + 1]))
            c5 = c5.addingProduct(u, V(repeating: x5[kk])); d5 = d5.addingProduct(v, V(repeating: x5[kk + 1]))
            c6 = c6.addingProduct(u, V(repeating: x6[kk])); d6 = d6.addingProduct(v, V(repeating: x6[kk + 1]))
            c7 = c7.addingProduct(u, V(repeating: x7[kk])); d7 = d7.addingProduct(v, V(repeating: x7[kk + 1]))
            kk += 2
        }
        if kk < k {
            let u = load(p + kk * 16)
            c0 = c0.addingProduct(u, V(repeating: x0[kk])); c1 = c1.addingProduct(u, V(repeating: x1[kk]))
            c2 = c2.addingProduct(u, V(repeating: x2[kk])); c3 = c3.addingProduct(u, V(repeating: x3[kk]))
            c4 = c4.addingProduct(u, V(repeating: x4[kk])); c5 = c5.addingProduct(u, V(repeating: x5[kk]))
            c6 = c6.addingProduct(u, V(repeating: x6[kk])); c7 = c7.addingProduct(u, V(repeating: x7[kk]))
        }
        put(c0 + d0, c, w0, accumulate); put(c1 + d1, c + ldc, w0, accumulate)
        put(c2 + d2, c + 2 * ldc, w0, accumulate); put(c3 + d3, c + 3 * ldc, w0, accumulate)
        put(c4 + d4, c + 4 * ldc, w0, accumulate); put(c5 + d5, c + 5 * ldc, w0, accumulate)
        put(c6 + d6, c + 6 * ldc, w0, accumulate); put(c7 + d7, c + 7 * ldc, w0, accumulate)
    }

    /// One row of `tile8x32` (row tails).
    @inline(__always)
    static func tile1x32(_ a: UnsafePointer<Float>, _ p: UnsafePointer<Float>, _ k: Int,
                         _ c: UnsafeMutablePointer<Float>, _ w0: Int, _ w1: Int, _ accumulate: Bool) {
        var c0 = V(), c1 = V()
        let q = p + k * 16
        for kk in 0..<k {
            let s = V(repeating: a[kk])
            c0 = c0.addingProduct(load(p + kk * 16), s); c1 = c1.addingProduct(load(q + kk * 16), s)
        }
        put(c0, c, w0, accumulate); put(c1, c + 16, w1, accumulate)
    }

    /// One row of `tile8x16` (row tails).
    @inline(__always)
    static func tile1x16(_ a: UnsafePointer<Float>, _ p: UnsafePointer<Float>, _ k: Int,
                         _ c: UnsafeMutablePointer<Float>, _ w0: Int, _ accumulate: Bool) {
        var c0 = V()
        for kk in 0..<k { c0 = c0.addingProduct(load(p + kk * 16), V(repeating: a[kk])) }
        put(c0, c, w0, accumulate)
    }

    /// C[0..<8, 0..<w0+w1] (+)= A[:, 0..<8]ᵀ · D[:, 0..<w0+w1] over N rows (w1 = 0: one vector of D per row).
    ///
    /// Rows of D below `safeRows` are loaded in whole vectors (lanes past w0 + w1 read but unused); the others
    /// lane by lane.
    @inline(__always)
    static func reduce8(_ a: UnsafePointer<Float>, _ lda: Int, _ n: Int, _ safeRows: Int,
                        _ d: UnsafePointer<Float>, _ ldd: Int,
                        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ w0: Int, _ w1: Int, _ accumulate: Bool) {
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
        if w1 > 0 {
            @inline(__always) func step(_ x: UnsafePointer<Float>, _ u: V, _ v: V) {
                var s = V(repeating: x[0]); c00 = c00.addingProduct(u, s); c01 = c01.addingProduct(v, s)
                s = V(repeating: x[1]); c10 = c10.addingProduct(u, s); c11 = c11.addingProduct(v, s)
                s = V(repeating: x[2]); c20 = c20.addingProduct(u, s); c21 = c21.addingProduct(v, s)
                s = V(repeating: x[3]); c30 = c30.addingProduct(u, s); c31 = c31.addingProduct(v, s)
                s = V(repeating: x[4]); c40 = c40.addingProduct(u, s); c41 = c41.addingProduct(v, s)
                s = V(repeating: x[5]); c50 = c50.addingProduct(u, s); c51 = c51.addingProduct(v, s)
                s = V(repeating: x[6]); c60 = c60.addingProduct(u, s); c61 = c61.addingProduct(v, s)
                s = V(repeating: x[7]); c70 = c70.addingProduct(u, s); c71 = c71.addingProduct(v, s)
            }
            for t in 0..<safeRows { step(a + t &* lda, load(d + t &* ldd), load(d + t &* ldd + 16)) }
            for t in safeRows..<n {
                step(a + t * lda, loadPartial(d + t * ldd, w0), loadPartial(d + t * ldd + 16, w1))
            }
        } else {
            // Two accumulators per row, over even and odd t.
            @inline(__always) func step(_ x: UnsafePointer<Float>, _ u: V) {
                c00 = c00.addingProduct(u, V(repeating: x[0])); c10 = c10.addingProduct(u, V(repeating: x[1]))
                c20 = c20.addingProduct(u, V(repeating: x[2])); c30 = c30.addingProduct(u, V(repeating: x[3]))
                c40 = c40.addingProduct(u, V(repeating: x[4])); c50 = c50.addingProduct(u, V(repeating: x[5]))
                c60 = c60.addingProduct(u, V(repeating: x[6])); c70 = c70.addingProduct(u, V(repeating: x[7]))
            }
            @inline(__always) func stepOdd(_ x: UnsafePointer<Float>, _ u: V) {
                c01 = c01.addingProduct(u, V(repeating: x[0])); c11 = c11.addingProduct(u, V(repeating: x[1]))
                c21 = c21.addingProduct(u, V(repeating: x[2])); c31 = c31.addingProduct(u, V(repeating: x[3]))
                c41 = c41.addingProduct(u, V(repeating: x[4])); c51 = c51.addingProduct(u, V(repeating: x[5]))
                c61 = c61.addingProduct(u, V(repeating: x[6])); c71 = c71.addingProduct(u, V(repeating: x[7]))
            }
            var t = 0
            while t + 2 <= safeRows {
                step(a + t &* lda, load(d + t &* ldd))
                stepOdd(a + (t + 1) &* lda, load(d + (t + 1) &* ldd))
                t += 2
            }
            while t < n {
                step(a + t * lda, t < safeRows ? load(d + t * ldd) : loadPartial(d + t * ldd, w0))
                t += 1
            }
            (c00, c10, c20, c30) = (c00 + c01, c10 + c11, c20 + c21, c30 + c31)
            (c40, c50, c60, c70) = (c40 + c41, c50 + c51, c60 + c61, c70 + c71)
        }
        put(c00, c, w0, accumulate); put(c10, c + ldc, w0, accumulate)
        put(c20, c + 2 * ldc, w0, accumulate); put(c30, c + 3 * ldc, w0, accumulate)
        put(c40, c + 4 * ldc, w0, accumulate); put(c50, c + 5 * ldc, w0, accumulate)
        put(c60, c + 6 * ldc, w0, accumulate); put(c70, c + 7 * ldc, w0, accumulate)
        if w1 > 0 {
            put(c01, c + 16, w1, accumulate); put(c11, c + ldc + 16, w1, accumulate)
            put(c21, c + 2 * ldc + 16, w1, accumulate); put(c31, c + 3 * ldc + 16, w1, accumulate)
            put(c41, c + 4 * ldc + 16, w1, accumulate); put(c51, c + 5 * ldc + 16, w1, accumulate)
            put(c61, c + 6 * ldc + 16, w1, accumulate); put(c71, c + 7 * ldc + 16, w1, accumulate)
        }
    }

    /// `reduce8` over 48 columns (three vectors of D per row, the third with w2 valid lanes): 24 accumulators,
    /// each broadcast of A feeding 3 multiply-adds.
    @inline(__always)
    static func reduce8x48(_ a: UnsafePointer<Float>, _ lda: Int, _ n: Int, _ safeRows: Int,
                           _ d: UnsafePointer<Float>, _ ldd: Int,
                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ w2: Int, _ accumulate: Bool) {
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V(), c20 = V(), c21 = V(), c22 = V()
        var c30 = V(), c31 = V(), c32 = V(), c40 = V(), c41 = V(), c42 = V(), c50 = V(), c51 = V(), c52 = V()
        var c60 = V(), c61 = V(), c62 = V(), c70 = V(), c71 = V(), c72 = V()
        @inline(__always) func step(_ x: UnsafePointer<Float>, _ u: V, _ v: V, _ w: V) {
            var s = V(repeating: x[0])
            c00 = c00.addingProduct(u, s); c01 = c01.addingProduct(v, s); c02 = c02.addingProduct(w, s)
            s = V(repeating: x[1]); c10 = c10.addingProduct(u, s); c11 = c11.addingProduct(v, s); c12 = c12.addingProduct(w, s)
            s = V(repeating: x[2]); c20 = c20.addingProduct(u, s); c21 = c21.addingProduct(v, s); c22 = c22.addingProduct(w, s)
            s = V(repeating: x[3]); c30 = c30.addingProduct(u, s); c31 = c31.addingProduct(v, s); c32 = c32.addingProduct(w, s)
            s = V(repeating: x[4]); c40 = c40.addingProduct(u, s); c41 = c41.addingProduct(v, s); c42 = c42.addingProduct(w, s)
            s = V(repeating: x[5]); c50 = c50.addingProduct(u, s); c51 = c51.addingProduct(v, s); c52 = c52.addingProduct(w, s)
            s = V(repeating: x[6]); c60 = c60.addingProduct(u, s); c61 = c61.addingProduct(v, s); c62 = c62.addingProduct(w, s)
            s = V(repeating: x[7]); c70 = c70.addingProduct(u, s); c71 = c71.addingProduct(v, s); c72 = c72.addingProduct(w, s)
        }
        for t in 0..<safeRows {
            let row = d + t &* ldd
            step(a + t &* lda, load(row), load(row + 16), load(row + 32))
        }
        for t in safeRows..<n {
            let row = d + t * ldd
            step(a + t * lda, load(row), load(row + 16), loadPartial(row + 32, w2))
        }
        @inline(__always) func out(_ i: Int, _ a: V, _ b: V, _ e: V) {
            put(a, c + i * ldc, 16, accumulate); put(b, c + i * ldc + 16, 16, accumulate); put(e, c + i * ldc + 32, w2, accumulate)
        }
        out(0, c00, c01, c02); out(1, c10, c11, c12); out(2, c20, c21, c22); out(3, c30, c31, c32)
        out(4, c40, c41, c42); out(5, c50, c51, c52); out(6, c60, c61, c62); out(7, c70, c71, c72)
    }

    /// `reduce8` for w0 = 16 and w1 ≤ 8 (C = 24 blocks): the second vector of D is an 8-lane one.
    @inline(__always)
    static func reduce8x24(_ a: UnsafePointer<Float>, _ lda: Int, _ n: Int, _ safeRows: Int,
                           _ d: UnsafePointer<Float>, _ ldd: Int,
                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ w1: Int, _ accumulate: Bool) {
        var c00 = V(), c10 = V(), c20 = V(), c30 = V(), c40 = V(), c50 = V(), c60 = V(), c70 = V()
        var c01 = H(), c11 = H(), c21 = H(), c31 = H(), c41 = H(), c51 = H(), c61 = H(), c71 = H()
        @inline(__always) func step(_ x: UnsafePointer<Float>, _ u: V, _ v: H) {
            c00 = c00.addingProduct(u, V(repeating: x[0])); c01 = c01.addingProduct(v, H(repeating: x[0]))
            c10 = c10.addingProduct(u, V(repeating: x[1])); c11 = c11.addingProduct(v, H(repeating: x[1]))
            c20 = c20.addingProduct(u, V(repeating: x[2])); c21 = c21.addingProduct(v, H(repeating: x[2]))
            c30 = c30.addingProduct(u, V(repeating: x[3])); c31 = c31.addingProduct(v, H(repeating: x[3]))
            c40 = c40.addingProduct(u, V(repeating: x[4])); c41 = c41.addingProduct(v, H(repeating: x[4]))
            c50 = c50.addingProduct(u, V(repeating: x[5])); c51 = c51.addingProduct(v, H(repeating: x[5]))
            c60 = c60.addingProduct(u, V(repeating: x[6])); c61 = c61.addingProduct(v, H(repeating: x[6]))
            c70 = c70.addingProduct(u, V(repeating: x[7])); c71 = c71.addingProduct(v, H(repeating: x[7]))
        }
        for t in 0..<safeRows { step(a + t &* lda, load(d + t &* ldd), load8(d + t &* ldd + 16)) }
        for t in safeRows..<n { step(a + t * lda, load(d + t * ldd), loadPartial8(d + t * ldd + 16, w1)) }
        put(c00, c, 16, accumulate); put8(c01, c + 16, w1, accumulate)
        put(c10, c + ldc, 16, accumulate); put8(c11, c + ldc + 16, w1, accumulate)
        put(c20, c + 2 * ldc, 16, accumulate); put8(c21, c + 2 * ldc + 16, w1, accumulate)
        put(c30, c + 3 * ldc, 16, accumulate); put8(c31, c + 3 * ldc + 16, w1, accumulate)
        put(c40, c + 4 * ldc, 16, accumulate); put8(c41, c + 4 * ldc + 16, w1, accumulate)
        put(c50, c + 5 * ldc, 16, accumulate); put8(c51, c + 5 * ldc + 16, w1, accumulate)
        put(c60, c + 6 * ldc, 16, accumulate); put8(c61, c + 6 * ldc + 16, w1, accumulate)
        put(c70, c + 7 * ldc, 16, accumulate); put8(c71, c + 7 * ldc + 16, w1, accumulate)
    }

    /// One row of `reduce8` (a row tail of C): C[0, 0..<w0+w1] (+)= A[:, 0]ᵀ · D.
    @inline(__always)
    static func reduce1(_ a: UnsafePointer<Float>, _ lda: Int, _ n: Int, _ safeRows: Int,
                        _ d: UnsafePointer<Float>, _ ldd: Int,
                        _ c: UnsafeMutablePointer<Float>, _ w0: Int, _ w1: Int, _ accumulate: Bool) {
        var c0 = V(), c1 = V()
        for t in 0..<n {
            let s = V(repeating: a[t * lda]), row = d + t * ldd
            c0 = c0.addingProduct(t < safeRows ? load(row) : loadPartial(row, w0), s)
            if w1 > 0 { c1 = c1.addingProduct(t < safeRows ? load(row + 16) : loadPartial(row + 16, w1), s) }
        }
        put(c0, c, w0, accumulate)
        if w1 > 0 { put(c1, c + 16, w1, accumulate) }
    }
}
