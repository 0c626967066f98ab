// Legend: N rows of x, O rows of W (output features), I columns of W (input features).

extension PanelMatrix {
    /// Rows of x handled per pass over a panel: x (64, I) stays in L2 while every panel streams by.
    public static let rowChunk = 64

    /// y (N, O) = x (N, I) · Wᵀ. Splits the panels over `Threading.threadCount` threads; each thread
    /// decodes a panel once (compressed kinds) and runs it against 8, 4 or 1 rows of x at a time.
    public func multiply(_ x: Tensor) throws -> Tensor {
        let (n, i) = try x.dims2("PanelMatrix.multiply")
        guard i == columns else { throw TensorError.shapeMismatch(operation: "PanelMatrix.multiply", lhs: x.shape, rhs: [rows, columns]) }
        guard n > 0, rows > 0 else { return Tensor.zeros([n, rows]) }
        // Every element of y is written by one kernel call: no zero-fill first.
        return x.withUnsafeBufferPointer { px in Tensor.filled([n, rows]) { multiply(px.baseAddress!, rows: n, into: $0) } }
    }

    /// Raw form of `multiply`: x (N, I) row-major → y (N, O) row-major (overwritten).
    public func multiply(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>) {
        let (o, i, w) = (rows, columns, Self.panelWidth)
        guard n > 0, o > 0 else { return }
        if storage == .bfloat16Dot { return multiplyBFloat16Dot(x, rows: n, into: y) }
        // At least ~256k multiply-adds per chunk, so a dispatch is worth its overhead.
        let perPanel = max(1, w * i * min(n, Self.rowChunk))
        Threading.parallelFor(panels, minimumPerChunk: max(1, (1 << 18) / perPanel)) { start, end in
            let scratch = storage == .float32 ? nil : UnsafeMutablePointer<Float>.allocate(capacity: paddedColumns * w)
            defer { scratch?.deallocate() }
            let sumsBlocks = hasOffsets && (storage == .affine4 || storage == .affine8)
            let blockSums = UnsafeMutablePointer<Float>.allocate(capacity: sumsBlocks ? 4 * blocks : 1)
            defer { blockSums.deallocate() }
            var r0 = 0
            while r0 < n {
                let r1 = min(n, r0 + Self.rowChunk)
                if r1 - r0 < 4, sumsBlocks {
                    for r in r0..<r1 { sumBlocks(x + r * i, into: blockSums + (r - r0) * blocks) }
                }
                for p in start..<end {
                    if r1 - r0 < 4, storage != .float32 {
                        // Few rows: decode in registers, no scratch round trip.
                        for r in r0..<r1 {
                            if storage == .bfloat16 {
                                bfloat16Row(p, x + r * i, y + r * o + p * w, min(w, o - p * w))
                            } else {
                                affineRow(p, x + r * i, blockSums + (r - r0) * blocks, y + r * o + p * w, min(w, o - p * w))
                            }
                        }
                        continue
                    }
                    let panel = decodePanel(p, into: scratch)
                    let width = min(w, o - p * w)
                    let yp = y + p * w
                    var r = r0
                    while r + 8 <= r1 { Self.kernel8(panel, i, x + r * i, i, yp + r * o, o, width); r += 8 }
                    while r + 4 <= r1 { Self.kernel4(panel, i, x + r * i, i, yp + r * o, o, width); r += 4 }
                    while r < r1 { Self.kernel1(panel, i, x + r * i, yp + r * o, width); r += 1 }
                }
                r0 = r1
            }
        }
    }

    /// Panel p as f32 (I, 16): the stored floats themselves, or `scratch` after decoding into it.
    @inline(__always)
    func decodePanel(_ p: Int, into scratch: UnsafeMutablePointer<Float>?) -> UnsafePointer<Float> {
        let w = Self.panelWidth
        guard let scratch else { return UnsafePointer(data.assumingMemoryBound(to: Float.self) + p * columns * w) }
        switch storage {
        case .float32:
            scratch.update(from: data.assumingMemoryBound(to: Float.self) + p * columns * w, count: columns * w)
        case .bfloat16Dot:
            let src = data.assumingMemoryBound(to: UInt16.self)
            for k in 0..<columns { for j in 0..<w { scratch[k * w + j] = HalfPrecision.float(fromBFloat16Bits: src[pairIndex(p, j, k)]) } }
        case .bfloat16:
            let src = data.assumingMemoryBound(to: UInt16.self) + p * columns * w
            for k in 0..<columns {
                let h = UnsafeRawPointer(src + k * w).loadUnaligned(as: SIMD16<UInt16>.self)
                Kernels.store(Self.widen(h), scratch + k * w)
            }
        case .affine8:
            let src = UnsafeRawPointer(data) + p * paddedColumns * w
            for b in 0..<blocks {
                let d = blockScale(p, b), m = blockOffset(p, b)
                for k in (b * blockSize)..<((b + 1) * blockSize) {
                    let q = src.loadUnaligned(fromByteOffset: k * w, as: SIMD16<Int8>.self)
                    Kernels.store(Self.floats(q) * d + m, scratch + k * w)
                }
            }
        case .affine4:
            let src = UnsafeRawPointer(data) + p * paddedColumns / 2 * w
            for b in 0..<blocks {
                let d = blockScale(p, b), m = blockOffset(p, b)
                for pair in (b * blockSize / 2)..<((b + 1) * blockSize / 2) {
                    let q = src.loadUnaligned(fromByteOffset: pair * w, as: SIMD16<UInt8>.self)
                    Kernels.store(Self.lowNibbles(q) * d + m, scratch + 2 * pair * w)
                    Kernels.store(Self.highNibbles(q) * d + m, scratch + (2 * pair + 1) * w)
                }
            }
        }
        return UnsafePointer(scratch)
    }

    /// One row of y for panel p of a bf16 matrix: y[0..<width] = Σ_k x[k]·W[k], widened in registers.
    @inline(__always)
    func bfloat16Row(_ p: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ width: Int) {
        let w = Self.panelWidth
        let src = UnsafeRawPointer(data) + p * columns * w * 2
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var k = 0
        while k + 4 <= columns {
            a0 = a0.addingProduct(Self.widen(src.loadUnaligned(fromByteOffset: k * w * 2, as: SIMD16<UInt16>.self)), SIMD16(repeating: x[k]))
            a1 = a1.addingProduct(Self.widen(src.loadUnaligned(fromByteOffset: (k + 1) * w * 2, as: SIMD16<UInt16>.self)), SIMD16(repeating: x[k + 1]))
            a2 = a2.addingProduct(Self.widen(src.loadUnaligned(fromByteOffset: (k + 2) * w * 2, as: SIMD16<UInt16>.self)), SIMD16(repeating: x[k + 2]))
            a3 = a3.addingProduct(Self.widen(src.loadUnaligned(fromByteOffset: (k + 3) * w * 2, as: SIMD16<UInt16>.self)), SIMD16(repeating: x[k + 3]))
            k += 4
        }
        while k < columns {
            a0 = a0.addingProduct(Self.widen(src.loadUnaligned(fromByteOffset: k * w * 2, as: SIMD16<UInt16>.self)), SIMD16(repeating: x[k]))
            k += 1
        }
        Self.put((a0 + a1) + (a2 + a3), y, width)
    }

    /// Σ of x over each block of B columns (the last block partial), for the offsets' share of `affineRow`.
    func sumBlocks(_ x: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            var t: Float = 0
            for k in (b * blockSize)..<min(columns, (b + 1) * blockSize) { t += x[k] }
            sums[b] = t
        }
    }

    /// One row of y for panel p of an affine matrix, factored by block: y = Σ_b d_b·(Σ_{k∈b} q_k·x_k) + m_b·(Σ_{k∈b} x_k)
    /// (`xBlockSums` holds the last factors; read only when the matrix has offsets). The codes are
    /// widened in registers and multiplied by x as they are, so a weight costs a conversion and one
    /// multiply-add; the same weights as `decodePanel`'s, summed in another order.
    @inline(__always)
    func affineRow(_ p: Int, _ x: UnsafePointer<Float>, _ xBlockSums: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ width: Int) {
        let w = Self.panelWidth
        var acc = SIMD16<Float>(), offsetAcc = SIMD16<Float>()
        let full = columns / blockSize
        if storage == .affine4 {
            let src = UnsafeRawPointer(data) + p * paddedColumns / 2 * w
            for b in 0..<full {
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                let base = b * blockSize
                var pair = 0
                while pair < blockSize / 2 {
                    let q0 = src.loadUnaligned(fromByteOffset: (base / 2 + pair) * w, as: SIMD16<UInt8>.self)
                    let q1 = src.loadUnaligned(fromByteOffset: (base / 2 + pair + 1) * w, as: SIMD16<UInt8>.self)
                    let k = base + 2 * pair
                    a0 = a0.addingProduct(Self.lowNibbles(q0), SIMD16(repeating: x[k]))
                    a1 = a1.addingProduct(Self.highNibbles(q0), SIMD16(repeating: x[k + 1]))
                    a2 = a2.addingProduct(Self.lowNibbles(q1), SIMD16(repeating: x[k + 2]))
                    a3 = a3.addingProduct(Self.highNibbles(q1), SIMD16(repeating: x[k + 3]))
                    pair += 2
                }
                acc = acc.addingProduct((a0 + a1) + (a2 + a3), blockScale(p, b))
            }
        } else {
            let src = UnsafeRawPointer(data) + p * paddedColumns * w
            for b in 0..<full {
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                var k = b * blockSize
                while k < (b + 1) * blockSize {
                    a0 = a0.addingProduct(Self.floats(src.loadUnaligned(fromByteOffset: k * w, as: SIMD16<Int8>.self)), SIMD16(repeating: x[k]))
                    a1 = a1.addingProduct(Self.floats(src.loadUnaligned(fromByteOffset: (k + 1) * w, as: SIMD16<Int8>.self)), SIMD16(repeating: x[k + 1]))
                    a2 = a2.addingProduct(Self.floats(src.loadUnaligned(fromByteOffset: (k + 2) * w, as: SIMD16<Int8>.self)), SIMD16(repeating: x[k + 2]))
                    a3 = a3.addingProduct(Self.floats(src.loadUnaligned(fromByteOffset: (k + 3) * w, as: SIMD16<Int8>.self)), SIMD16(repeating: x[k + 3]))
                    k += 4
                }
                acc = acc.addingProduct((a0 + a1) + (a2 + a3), blockScale(p, b))
            }
        }
        if hasOffsets {
            for b in 0..<full { offsetAcc = offsetAcc.addingProduct(blockOffset(p, b), SIMD16(repeating: xBlockSums[b])) }
        }
        // A partial last block (I not a multiple of B), one column at a time.
        for k in (full * blockSize)..<columns {
            var v = SIMD16<Float>()
            for j in 0..<w { v[j] = element(p * w + j < rows ? p * w + j : p * w, k) }
            acc = acc.addingProduct(v, SIMD16(repeating: x[k]))
        }
        Self.put(acc + offsetAcc, y, width)
    }

    /// y[r, 0..<width] = Σ_k x[r, k]·panel[k] for 8 rows r (x rows `ldx` apart, y rows `ldy` apart).
    @inline(__always)
    static func kernel8(_ panel: UnsafePointer<Float>, _ k: Int, _ x: UnsafePointer<Float>, _ ldx: Int,
                        _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ width: Int) {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
        let (x0, x1, x2, x3) = (x, x + ldx, x + 2 * ldx, x + 3 * ldx)
        let (x4, x5, x6, x7) = (x + 4 * ldx, x + 5 * ldx, x + 6 * ldx, x + 7 * ldx)
        for c in 0..<k {
            let w = Kernels.load(panel + c * 16)
            a0 = a0.addingProduct(w, SIMD16(repeating: x0[c])); a1 = a1.addingProduct(w, SIMD16(repeating: x1[c]))
            a2 = a2.addingProduct(w, SIMD16(repeating: x2[c])); a3 = a3.addingProduct(w, SIMD16(repeating: x3[c]))
            a4 = a4.addingProduct(w, SIMD16(repeating: x4[c])); a5 = a5.addingProduct(w, SIMD16(repeating: x5[c]))
            a6 = a6.addingProduct(w, SIMD16(repeating: x6[c])); a7 = a7.addingProduct(w, SIMD16(repeating: x7[c]))
        }
        put(a0, y, width); put(a1, y + ldy, width); put(a2, y + 2 * ldy, width); put(a3, y + 3 * ldy, width)
        put(a4, y + 4 * ldy, width); put(a5, y + 5 * ldy, width); put(a6, y + 6 * ldy, width); put(a7, y + 7 * ldy, width)
    }

    /// `kernel8` for 4 rows.
    @inline(__always)
    static func kernel4(_ panel: UnsafePointer<Float>, _ k: Int, _ x: UnsafePointer<Float>, _ ldx: Int,
                        _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ width: Int) {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
        let (x0, x1, x2, x3) = (x, x + ldx, x + 2 * ldx, x + 3 * ldx)
        var c = 0
        while c + 2 <= k {
            let w = Kernels.load(panel + c * 16), v = Kernels.load(panel + c * 16 + 16)
            a0 = a0.addingProduct(w, SIMD16(repeating: x0[c])); a1 = a1.addingProduct(w, SIMD16(repeating: x1[c]))
            a2 = a2.addingProduct(w, SIMD16(repeating: x2[c])); a3 = a3.addingProduct(w, SIMD16(repeating: x3[c]))
            b0 = b0.addingProduct(v, SIMD16(repeating: x0[c + 1])); b1 = b1.addingProduct(v, SIMD16(repeating: x1[c + 1]))
            b2 = b2.addingProduct(v, SIMD16(repeating: x2[c + 1])); b3 = b3.addingProduct(v, SIMD16(repeating: x3[c + 1]))
            c += 2
        }
        if c < k {
            let w = Kernels.load(panel + c * 16)
            a0 = a0.addingProduct(w, SIMD16(repeating: x0[c])); a1 = a1.addingProduct(w, SIMD16(repeating: x1[c]))
            a2 = a2.addingProduct(w, SIMD16(repeating: x2[c])); a3 = a3.addingProduct(w, SIMD16(repeating: x3[c]))
        }
        put(a0 + b0, y, width); put(a1 + b1, y + ldy, width); put(a2 + b2, y + 2 * ldy, width); put(a3 + b3, y + 3 * ldy, width)
    }

    /// `kernel8` for 1 row, with 4 accumulators over k to hide the FMA latency.
    @inline(__always)
    static func kernel1(_ panel: UnsafePointer<Float>, _ k: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ width: Int) {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var c = 0
        while c + 4 <= k {
            a0 = a0.addingProduct(Kernels.load(panel + c * 16), SIMD16(repeating: x[c]))
            a1 = a1.addingProduct(Kernels.load(panel + c * 16 + 16), SIMD16(repeating: x[c + 1]))
            a2 = a2.addingProduct(Kernels.load(panel + c * 16 + 32), SIMD16(repeating: x[c + 2]))
            a3 = a3.addingProduct(Kernels.load(panel + c * 16 + 48), SIMD16(repeating: x[c + 3]))
            c += 4
        }
        while c < k { a0 = a0.addingProduct(Kernels.load(panel + c * 16), SIMD16(repeating: x[c])); c += 1 }
        put((a0 + a1) + (a2 + a3), y, width)
    }

    // Lane loops, not the generic SIMD conversions (those compile to out-of-line calls); LLVM turns
    // each into one widening move and one conversion.

    /// 16 signed bytes → floats.
    @inline(__always)
    static func floats(_ q: SIMD16<Int8>) -> SIMD16<Float> {
        var f = SIMD16<Float>()
        for i in 0..<16 { f[i] = Float(q[i]) }
        return f
    }

    /// The low 4 bits of 16 bytes → floats.
    @inline(__always)
    static func lowNibbles(_ q: SIMD16<UInt8>) -> SIMD16<Float> {
        var f = SIMD16<Float>()
        for i in 0..<16 { f[i] = Float(q[i] & 0xF) }
        return f
    }

    /// The high 4 bits of 16 bytes → floats.
    @inline(__always)
    static func highNibbles(_ q: SIMD16<UInt8>) -> SIMD16<Float> {
        var f = SIMD16<Float>()
        for i in 0..<16 { f[i] = Float(q[i] >> 4) }
        return f
    }

    /// 16 bf16 bit patterns → floats.
    @inline(__always)
    static func widen(_ h: SIMD16<UInt16>) -> SIMD16<Float> {
        var u = SIMD16<UInt32>()
        for i in 0..<16 { u[i] = UInt32(h[i]) << 16 }
        return unsafeBitCast(u, to: SIMD16<Float>.self)
    }

    /// Stores the first `width` lanes of v at y.
    @inline(__always)
    static func put(_ v: SIMD16<Float>, _ y: UnsafeMutablePointer<Float>, _ width: Int) {
        if width == 16 { Kernels.store(v, y) } else { for j in 0..<width { y[j] = v[j] } }
    }
}
