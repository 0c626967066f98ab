// Legend: G query heads sharing one key/value head (the group, ≤ 8), D head dim (a multiple of 16), n key
// positions; keys of one head stored in blocks of 16 positions (D, 16), values in chunks of 16 dimensions
// (position-major within a chunk), chunks `valueStride` floats apart. Positions below `split` are read from the
// shared (source) storage, the rest from the head's own.

/// An element type keys and values may be stored in: f32 (exact) or f16 (half the bytes).
public protocol SIMD16Loadable {
    /// The element nearest to `value`.
    init(_ value: Float)
    /// 16 consecutive elements at p as floats.
    static func load16(_ p: UnsafePointer<Self>) -> SIMD16<Float>
}

extension Float: SIMD16Loadable {
    @inline(__always) public static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> { Kernels.load(p) }
}

extension Float16: SIMD16Loadable {
    /// Lane loop, not the generic SIMD conversion (that compiles to an out-of-line call); LLVM turns it into one vcvtph2ps.
    @inline(__always) public static func load16(_ p: UnsafePointer<Float16>) -> SIMD16<Float> {
        let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float16>.self)
        var f = SIMD16<Float>()
        for i in 0..<16 { f[i] = Float(h[i]) }
        return f
    }
}

/// The two products of decode-time attention for one key/value head and its group of query heads, on the blocked
/// cache layout: scores = scale · q·Kᵀ and out = P·V. `attendReference`-style twins with Double sums sit beside them.
public enum GroupedAttention {
    /// scores (G, n) = scale · q (G, D) · keysᵀ, 16 positions at a time: each block of keys (D, 16) is read once for
    /// all heads of the group, one SIMD16 multiply-add per dimension and head.
    @inlinable
    public static func scores<E: SIMD16Loadable>(q: UnsafePointer<Float>, group: Int, d: Int, n: Int, split: Int,
                                                 keys: UnsafePointer<E>, sharedKeys: UnsafePointer<E>, scale: Float,
                                                 into scores: UnsafeMutablePointer<Float>) {
        var j0 = 0
        while j0 < n {
            let block = (j0 < split ? sharedKeys : keys) + j0 * d
            var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
            var s4 = SIMD16<Float>(), s5 = SIMD16<Float>(), s6 = SIMD16<Float>(), s7 = SIMD16<Float>()
            for i in 0..<d {
                let k = E.load16(block + i * 16)
                s0 = s0.addingProduct(k, SIMD16(repeating: q[i]))
                if group > 1 { s1 = s1.addingProduct(k, SIMD16(repeating: q[d + i])) }
                if group > 2 { s2 = s2.addingProduct(k, SIMD16(repeating: q[2 * d + i])) }
                if group > 3 { s3 = s3.addingProduct(k, SIMD16(repeating: q[3 * d + i])) }
                if group > 4 { s4 = s4.addingProduct(k, SIMD16(repeating: q[4 * d + i])) }
                if group > 5 { s5 = s5.addingProduct(k, SIMD16(repeating: q[5 * d + i])) }
                if group > 6 { s6 = s6.addingProduct(k, SIMD16(repeating: q[6 * d + i])) }
                if group > 7 { s7 = s7.addingProduct(k, SIMD16(repeating: q[7 * d + i])) }
            }
            let m = min(16, n - j0)
            func put(_ v: SIMD16<Float>, _ a: Int) {
                if m == 16 { Kernels.store(v * scale, scores + a * n + j0) } else { for t in 0..<m { scores[a * n + j0 + t] = v[t] * scale } }
            }
            put(s0, 0)
            if group > 1 { put(s1, 1) }
            if group > 2 { put(s2, 2) }
            if group > 3 { put(s3, 3) }
            if group > 4 { put(s4, 4) }
            if group > 5 { put(s5, 5) }
            if group > 6 { put(s6, 6) }
            if group > 7 { put(s7, 7) }
            j0 += 16
        }
    }

    /// out (G, D) = scores (G, n) · values, one 16-dimension chunk at a time: the chunk of every position is
    /// contiguous, read once for all heads of the group; even and odd positions go to two accumulator sets (twice
    /// the independent FMAs). Shared positions 0..<split (a multiple of 16, so the pairing is that of a copy) come
    /// from `sharedValues`.
    @inlinable
    public static func weightedValues<E: SIMD16Loadable>(scores: UnsafePointer<Float>, group: Int, d: Int, n: Int, split: Int,
                                                         values: UnsafePointer<E>, sharedValues: UnsafePointer<E>, valueStride: Int,
                                                         into out: UnsafeMutablePointer<Float>) {
        for c in 0..<(d / 16) {
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
            var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
            var b4 = SIMD16<Float>(), b5 = SIMD16<Float>(), b6 = SIMD16<Float>(), b7 = SIMD16<Float>()
            var segment = 0
            while segment < 2 {
                let (slotValues, lo, hi) = segment == 0 ? (sharedValues, 0, split) : (values, split, n)
                let base = slotValues + c * valueStride
                var j = lo
                while j + 2 <= hi {
                    let v = E.load16(base + j * 16), u = E.load16(base + j * 16 + 16)
                    a0 = a0.addingProduct(v, SIMD16(repeating: scores[j])); b0 = b0.addingProduct(u, SIMD16(repeating: scores[j + 1]))
                    if group > 1 { a1 = a1.addingProduct(v, SIMD16(repeating: scores[n + j])); b1 = b1.addingProduct(u, SIMD16(repeating: scores[n + j + 1])) }
                    if group > 2 { a2 = a2.addingProduct(v, SIMD16(repeating: scores[2 * n + j])); b2 = b2.addingProduct(u, SIMD16(repeating: scores[2 * n + j + 1])) }
                    if group > 3 { a3 = a3.addingProduct(v, SIMD16(repeating: scores[3 * n + j])); b3 = b3.addingProduct(u, SIMD16(repeating: scores[3 * n + j + 1])) }
                    if group > 4 { a4 = a4.addingProduct(v, SIMD16(repeating: scores[4 * n + j])); b4 = b4.addingProduct(u, SIMD16(repeating: scores[4 * n + j + 1])) }
                    if group > 5 { a5 = a5.addingProduct(v, SIMD16(repeating: scores[5 * n + j])); b5 = b5.addingProduct(u, SIMD16(repeating: scores[5 * n + j + 1])) }
                    if group > 6 { a6 = a6.addingProduct(v, SIMD16(repeating: scores[6 * n + j])); b6 = b6.addingProduct(u, SIMD16(repeating: scores[6 * n + j + 1])) }
                    if group > 7 { a7 = a7.addingProduct(v, SIMD16(repeating: scores[7 * n + j])); b7 = b7.addingProduct(u, SIMD16(repeating: scores[7 * n + j + 1])) }
                    j += 2
                }
                if j < hi {
                    let v = E.load16(base + j * 16)
                    a0 = a0.addingProduct(v, SIMD16(repeating: scores[j]))
                    if group > 1 { a1 = a1.addingProduct(v, SIMD16(repeating: scores[n + j])) }
                    if group > 2 { a2 = a2.addingProduct(v, SIMD16(repeating: scores[2 * n + j])) }
                    if group > 3 { a3 = a3.addingProduct(v, SIMD16(repeating: scores[3 * n + j])) }
                    if group > 4 { a4 = a4.addingProduct(v, SIMD16(repeating: scores[4 * n + j])) }
                    if group > 5 { a5 = a5.addingProduct(v, SIMD16(repeating: scores[5 * n + j])) }
                    if group > 6 { a6 = a6.addingProduct(v, SIMD16(repeating: scores[6 * n + j])) }
                    if group > 7 { a7 = a7.addingProduct(v, SIMD16(repeating: scores[7 * n + j])) }
                }
                segment += 1
            }
            a0 += b0; a1 += b1; a2 += b2; a3 += b3; a4 += b4; a5 += b5; a6 += b6; a7 += b7
            let oc = out + 16 * c
            Kernels.store(a0, oc)
            if group > 1 { Kernels.store(a1, oc + d) }
            if group > 2 { Kernels.store(a2, oc + 2 * d) }
            if group > 3 { Kernels.store(a3, oc + 3 * d) }
            if group > 4 { Kernels.store(a4, oc + 4 * d) }
            if group > 5 { Kernels.store(a5, oc + 5 * d) }
            if group > 6 { Kernels.store(a6, oc + 6 * d) }
            if group > 7 { Kernels.store(a7, oc + 7 * d) }
        }
    }

    // MARK: Reference twins (plain loops, Double sums)

    /// The key of position j, dimension i, in the blocked layout.
    static func key<E: SIMD16Loadable>(_ keys: UnsafePointer<E>, _ shared: UnsafePointer<E>, split: Int, d: Int, _ j: Int, _ i: Int) -> Float {
        let block = (j / 16 * 16) < split ? shared : keys
        return E.load16(block + (j / 16 * 16) * d + i * 16)[j % 16]
    }

    /// `scores`, computed directly.
    public static func scoresReference<E: SIMD16Loadable>(q: UnsafePointer<Float>, group: Int, d: Int, n: Int, split: Int,
                                                          keys: UnsafePointer<E>, sharedKeys: UnsafePointer<E>, scale: Float,
                                                          into scores: UnsafeMutablePointer<Float>) {
        for a in 0..<group {
            for j in 0..<n {
                var dot = 0.0
                for i in 0..<d { dot += Double(q[a * d + i]) * Double(key(keys, sharedKeys, split: split, d: d, j, i)) }
                scores[a * n + j] = Float(dot) * scale
            }
        }
    }

    /// `weightedValues`, computed directly.
    public static func weightedValuesReference<E: SIMD16Loadable>(scores: UnsafePointer<Float>, group: Int, d: Int, n: Int, split: Int,
                                                                  values: UnsafePointer<E>, sharedValues: UnsafePointer<E>, valueStride: Int,
                                                                  into out: UnsafeMutablePointer<Float>) {
        for a in 0..<group {
            for i in 0..<d {
                var sum = 0.0
                for j in 0..<n {
                    let base = (j < split ? sharedValues : values) + (i / 16) * valueStride + j * 16
                    sum += Double(scores[a * n + j]) * Double(E.load16(base)[i % 16])
                }
                out[a * d + i] = Float(sum)
            }
        }
    }
}
