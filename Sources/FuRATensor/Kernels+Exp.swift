/// Vectorized exponential, sigmoid and SiLU, with their scalar reference twins.
///
/// `exp` is the Cephes single-precision scheme: n = round(x·log₂e), r = x − n·ln 2 (split in two
/// constants so r is exact), e^r by a degree-6 polynomial on [−ln2/2, ln2/2], and 2ⁿ put into the
/// exponent bits. Relative error ≤ 1e-7 over the normal range (measured against `Foundation.exp`).
/// Inputs below −87.34 give 0; inputs above 88.376 give 2.4e38 instead of overflowing; NaN stays NaN.
extension Kernels {
    @usableFromInline static let expLow: Float = -87.33654
    @usableFromInline static let expHigh: Float = 88.37626

    /// e^x per lane.
    @inlinable @inline(__always)
    public static func exp(_ x0: Vector) -> Vector {
        let low = Vector(repeating: expLow), high = Vector(repeating: expHigh)
        let x = x0.replacing(with: low, where: x0 .< low).replacing(with: high, where: x0 .> high)
        // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
        let magic = Vector(repeating: 12_582_912)
        let shifted = x * 1.442_695_040_888_963_4 + magic
        let n = shifted - magic
        let r = (x - n * 0.693_359_375) + n * 2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * r * r + r + 1
        let exponent = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let result = y * unsafeBitCast((exponent &+ 127) &<< 23, to: Vector.self)
        // Bit masks instead of `replace(with:where:)`, which does not vectorize: 0 below the range, NaN kept.
        let keep = unsafeBitCast(x0 .>= low, to: SIMD16<Int32>.self)
        let isNaN = unsafeBitCast(x0 .!= x0, to: SIMD16<Int32>.self)
        let bits = (unsafeBitCast(result, to: SIMD16<Int32>.self) & keep) | (unsafeBitCast(x0, to: SIMD16<Int32>.self) & isNaN)
        return unsafeBitCast(bits, to: Vector.self)
    }

    /// e^x for the scalar tails of the vector loops.
    @inlinable @inline(__always)
    static func scalarExp(_ x: Float) -> Float { Float(_exp(Double(x))) }

    /// Reference twin of `exp(_:)` for one scalar, in `Double`.
    public static func expReference(_ x: Float) -> Float { Float(_exp(Double(x))) }

    /// x[i] ← e^(x[i] − shift) for i < n; returns Σ of the new values (accumulated in `Float` lanes).
    @inlinable
    public static func expShiftedSum(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        let s = Vector(repeating: shift)
        var acc0 = Vector(repeating: 0), acc1 = Vector(repeating: 0)
        var i = 0
        while i + 2 * width <= n {
            let e0 = exp(load(x + i) - s), e1 = exp(load(x + i + width) - s)
            store(e0, x + i); store(e1, x + i + width)
            acc0 += e0; acc1 += e1
            i += 2 * width
        }
        var total = (acc0 + acc1).sum()
        while i < n {
            let e = scalarExp(x[i] - shift)
            x[i] = e; total += e; i += 1
        }
        return total
    }

    /// log Σ e^x[i] over n values, stably (shifted by the maximum), without writing x.
    @inlinable
    public static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        guard n > 0 else { return -.infinity }
        let m = max(x, n)
        guard m.isFinite else { return m }
        let s = Vector(repeating: m)
        var acc = Vector(repeating: 0)
        var i = 0
        while i + width <= n { acc += exp(load(x + i) - s); i += width }
        var total = acc.sum()
        while i < n { total += scalarExp(x[i] - m); i += 1 }
        return m + Float(_log(Double(total)))
    }

    /// σ(x) = 1 / (1 + e^−x) per lane.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Vector) -> Vector { 1 / (1 + exp(-x)) }

    /// SiLU x·σ(x), out of place (`out` may alias `x`).
    @inlinable
    public static func silu(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
        var i = 0
        while i + width <= count {
            let v = load(x + i)
            store(v * sigmoid(v), out + i)
            i += width
        }
        while i < count { let v = x[i]; out[i] = v / (1 + scalarExp(-v)); i += 1 }
    }

    /// Reference twin of `silu` in `Double`.
    public static func siluReference(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count { let v = Double(x[i]); out[i] = Float(v / (1 + _exp(-v))) }
    }
}
