import Foundation

/// exp on 16 lanes at once (range reduction by ln 2 and a degree-6 polynomial; relative error below
/// 2·10⁻⁷ on [−87, 88]), with row helpers for softmax-like loops. `expReference` is the scalar twin.
///
/// Written for generation (attention softmax, sampling) before a shared vectorized exp existed in
/// `Kernels`; inputs below −87.3 give 0, above 88.7 give +∞.
public enum VectorExp {
    /// e^x lane by lane.
    @inline(__always)
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // Only plain lane-wise operators: generic SIMD conversions compile to out-of-line calls.
        var c = x
        for i in 0..<16 { c[i] = c[i] < -87.33654 ? -87.33654 : (c[i] > 88.72283 ? 88.72283 : c[i]) }
        // n = round(c / ln2) by the 1.5·2²³ trick: its integer also sits in the low bits of t.
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let t = magic.addingProduct(c, SIMD16(repeating: 1.442695041))
        let n = t - magic
        // r = c − n·ln2 with ln2 split in two parts so r keeps its low bits; |r| ≤ ln2/2.
        var r = c.addingProduct(n, SIMD16(repeating: -0.693359375))
        r = r.addingProduct(n, SIMD16(repeating: 2.12194440e-4))
        var p = SIMD16<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = (p * r * r + r) + 1
        // 2^n in two halves so n = 128 (x near 88.7) does not overflow the exponent field.
        let k = unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let k1 = k &>> 1
        let s1 = unsafeBitCast((k1 &+ 127) &<< 23, to: SIMD16<Float>.self)
        let s2 = unsafeBitCast((k &- k1 &+ 127) &<< 23, to: SIMD16<Float>.self)
        var y = p * s1 * s2
        y.replace(with: 0, where: x .< -87.33654)
        y.replace(with: .infinity, where: x .> 88.72283)
        return y
    }

    /// Scalar twin of `exp`.
    public static func expReference(_ x: Float) -> Float { Foundation.exp(x) }

    /// x[i] ← exp(x[i] − shift) for i < n; returns Σ of the new values.
    public static func expShifted(_ x: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        let s = SIMD16<Float>(repeating: shift)
        while i + 16 <= n {
            let e = exp(Kernels.load(x + i) - s)
            Kernels.store(e, x + i)
            acc += e
            i += 16
        }
        var total = acc.sum()
        if i < n {
            var tail = SIMD16<Float>(repeating: -.infinity)
            for j in i..<n { tail[j - i] = x[j] - shift }
            let e = exp(tail)
            for j in i..<n { x[j] = e[j - i] }
            total += e.sum()
        }
        return total
    }

    /// In-place softmax of x (n,).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        guard n > 0 else { return }
        let total = expShifted(x, n, shift: Kernels.max(x, n))
        Kernels.scale(x, 1 / total, n)
    }

    /// log Σ exp(x[i]) over n values, stably, without writing x.
    public static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        guard n > 0 else { return -.infinity }
        let m = Kernels.max(x, n)
        guard m.isFinite else { return m }
        var acc = SIMD16<Float>()
        var i = 0
        let s = SIMD16<Float>(repeating: m)
        while i + 16 <= n { acc += exp(Kernels.load(x + i) - s); i += 16 }
        var total = acc.sum()
        while i < n { total += Foundation.exp(x[i] - m); i += 1 }
        return m + Foundation.log(total)
    }
}
