// Legend: N rows of x, I input features, O output rows of the matrix.

/// A read-only (O, I) matrix stored as bf16 for memory-bound products (inference weights).
///
/// `multiply` computes y = x·Wᵀ: for a few rows it streams the bf16 weights once through a SIMD
/// dot kernel (half the bytes of f32); for many rows it widens tiles of W to f32 and calls sgemm.
/// `multiplyReference` is the simple twin (widen all, accumulate in Double).
public final class BFloat16Matrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    let bits: UnsafeMutablePointer<UInt16>
    /// Rows of x at or below which the streaming kernel is used.
    public static let streamingRowLimit = 4
    static let tileRows = 256

    /// Rounds w (O, I) to bf16 (nearest even).
    public init(_ w: Tensor) throws {
        let (o, i) = try w.dims2()
        rows = o; columns = i
        bits = .allocate(capacity: max(1, o * i))
        w.withUnsafeBufferPointer { pw in
            for k in 0..<(o * i) { bits[k] = HalfPrecision.bfloat16Bits(from: pw[k]) }
        }
    }

    deinit { bits.deallocate() }

    /// The matrix widened back to f32 (O, I).
    public func widened() -> Tensor {
        var t = Tensor.zeros([rows, columns])
        t.withUnsafeMutableBufferPointer { p in
            for k in 0..<(rows * columns) { p[k] = HalfPrecision.float(fromBFloat16Bits: bits[k]) }
        }
        return t
    }

    /// x (N, I) → y (N, O) = x·Wᵀ.
    public func multiply(_ x: Tensor) throws -> Tensor {
        let (n, i) = try x.dims2()
        guard i == columns else { throw TensorError.shapeMismatch(operation: "BFloat16Matrix.multiply", lhs: x.shape, rhs: [rows, columns]) }
        var y = Tensor.zeros([n, rows])
        guard n > 0, rows > 0 else { return y }
        let (o, c) = (rows, columns)
        let w = UnsafePointer(bits)
        x.withUnsafeBufferPointer { px in y.withUnsafeMutableBufferPointer { py in
            let (xb, yb) = (px.baseAddress!, py.baseAddress!)
            if n <= Self.streamingRowLimit {
                Threading.parallelFor(o, minimumPerChunk: 64) { start, end in
                    for r in start..<end {
                        for s in 0..<n { yb[s * o + r] = Self.dot(w + r * c, xb + s * c, c) }
                    }
                }
            } else {
                let tiles = (o + Self.tileRows - 1) / Self.tileRows
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: min(o, Self.tileRows) * c)
                defer { scratch.deallocate() }
                for tile in 0..<tiles {
                    let r0 = tile * Self.tileRows, m = min(Self.tileRows, o - r0)
                    Threading.parallelFor(m, minimumPerChunk: 16) { start, end in
                        Self.widen(w + (r0 + start) * c, scratch + start * c, (end - start) * c)
                    }
                    // SAFETY: x (N, I) with lda I; the tile (m, I) with ldb I; y columns r0..<r0+m with ldc O.
                    BLAS.gemm(transposeA: false, transposeB: true, m: n, n: m, k: c, a: xb, lda: c,
                              b: scratch, ldb: c, c: yb + r0, ldc: o)
                }
            }
        } }
        return y
    }

    /// Reference twin of `multiply`: every weight widened, sums in Double.
    public func multiplyReference(_ x: Tensor) throws -> Tensor {
        let (n, i) = try x.dims2()
        guard i == columns else { throw TensorError.shapeMismatch(operation: "BFloat16Matrix.multiplyReference", lhs: x.shape, rhs: [rows, columns]) }
        var y = Tensor.zeros([n, rows])
        for s in 0..<n {
            for r in 0..<rows {
                var acc = 0.0
                for k in 0..<columns { acc += Double(x.storage[s * columns + k]) * Double(HalfPrecision.float(fromBFloat16Bits: bits[r * columns + k])) }
                y.storage[s * rows + r] = Float(acc)
            }
        }
        return y
    }

    /// Σ w[k]·x[k] with w in bf16: 16 lanes widened by a shift, two accumulators.
    @inline(__always)
    static func dot(_ w: UnsafePointer<UInt16>, _ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc0 = SIMD16<Float>(repeating: 0), acc1 = SIMD16<Float>(repeating: 0)
        var k = 0
        while k + 32 <= count {
            acc0 = acc0.addingProduct(widen16(w + k), Kernels.load(x + k))
            acc1 = acc1.addingProduct(widen16(w + k + 16), Kernels.load(x + k + 16))
            k += 32
        }
        while k + 16 <= count {
            acc0 = acc0.addingProduct(widen16(w + k), Kernels.load(x + k))
            k += 16
        }
        var total = (acc0 + acc1).sum()
        while k < count { total += HalfPrecision.float(fromBFloat16Bits: w[k]) * x[k]; k += 1 }
        return total
    }

    /// 16 bf16 values → 16 floats.
    @inline(__always)
    static func widen16(_ p: UnsafePointer<UInt16>) -> SIMD16<Float> {
        let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt16>.self)
        return unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: h) &<< 16, to: SIMD16<Float>.self)
    }

    /// Widens `count` bf16 values into floats.
    static func widen(_ w: UnsafePointer<UInt16>, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
        var k = 0
        while k + 16 <= count { Kernels.store(widen16(w + k), out + k); k += 16 }
        while k < count { out[k] = HalfPrecision.float(fromBFloat16Bits: w[k]); k += 1 }
    }
}
