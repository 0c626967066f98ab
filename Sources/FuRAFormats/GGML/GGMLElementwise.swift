import Foundation

/// The element-wise steps of a Llama-family layer as llama.cpp's x86-64 CPU backend (AVX-512 build,
/// GCC) computes them, for `GenerationWeightPrecision.llamaCpp`: RMS norm, rotary tables and rotation,
/// and SwiGLU with ggml's vector expf. Each was checked value for value against llama.cpp's own tensors
/// (`scripts/llama-cpp/greedy_top.cpp` with DUMP_DIR).
public enum GGMLElementwise {
    /// `ggml_compute_forward_rms_norm_f32` then `ggml_mul`: Σ x² in f64 (each square rounded to f32), mean
    /// rounded to f32, scale = 1 / sqrtf(mean + ε), y = (x·scale)·w. x and y hold `rows` rows of w.count.
    public static func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, weight w: [Float], epsilon: Float, into y: UnsafeMutablePointer<Float>) {
        let n = w.count
        for r in 0..<rows {
            let row = x + r * n, out = y + r * n
            var sum = 0.0
            for i in 0..<n { sum += Double(row[i] * row[i]) }
            let mean = Float(sum / Double(n))
            let scale = 1 / (mean + epsilon).squareRoot()
            for i in 0..<n { out[i] = (row[i] * scale) * w[i] }
        }
    }

    /// cos and sin (P, D/2) of `ggml_rope_cache_init` with no scaling: the angle of pair i at position p is
    /// p·s^i multiplied up in f32 (s = powf(θ, −2/D)), divided by the pair's frequency divisor if any, then
    /// glibc's cosf and sinf.
    public static func ropeTables(positions: Int, headDim: Int, theta: Float, divisors: [Float]? = nil) -> (cos: [Float], sin: [Float]) {
        let half = headDim / 2
        let step = Foundation.powf(theta, Float(-2) / Float(headDim))
        var c = [Float](repeating: 0, count: positions * half), s = c
        for p in 0..<positions {
            var angle = Float(p)
            for i in 0..<half {
                let a = divisors.map { angle / $0[i] } ?? angle
                c[p * half + i] = Foundation.cosf(a)
                s[p * half + i] = Foundation.sinf(a)
                angle *= step
            }
        }
        return (c, s)
    }

    /// One rotated pair as GCC contracts `x0·cos − x1·sin` and `x0·sin + x1·cos`: x0's products fused.
    @inline(__always)
    public static func rotate(_ x0: Float, _ x1: Float, cos c: Float, sin s: Float) -> (Float, Float) {
        ((-(x1 * s)).addingProduct(x0, c), (x1 * c).addingProduct(x0, s))
    }

    /// `ggml_vec_dot_f16` on values already rounded to f16: four 16-lane registers over each 64 elements (fused),
    /// reduced 0 + 2, 1 + 3, then 0 + 1, then `reduce`; the elements past the last 64 added in f64.
    public static func dotF16(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int) -> Float {
        func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
        var s0 = SIMD16<Float>(), s1 = s0, s2 = s0, s3 = s0
        let whole = count - count % 64
        for k in stride(from: 0, to: whole, by: 64) {
            s0 = s0.addingProduct(load(w + k), load(x + k)); s1 = s1.addingProduct(load(w + k + 16), load(x + k + 16))
            s2 = s2.addingProduct(load(w + k + 32), load(x + k + 32)); s3 = s3.addingProduct(load(w + k + 48), load(x + k + 48))
        }
        var total = Double(reduce((s0 + s2) + (s1 + s3)))
        for k in whole..<count { total += Double(w[k] * x[k]) }
        return Float(total)
    }

    /// `_mm512_reduce_add_ps` as GCC writes it: halves added (i + 8), then (i + 4), then (0 + 2) + (1 + 3).
    @inline(__always)
    public static func reduce(_ v: SIMD16<Float>) -> Float {
        let eight = v.highHalf + v.lowHalf, four = eight.highHalf + eight.lowHalf
        return (four[0] + four[2]) + (four[1] + four[3])
    }

    /// a[i] ← silu(a[i])·up[i] with `ggml_v_silu` (x / (1 + expf(0 − x)) on ggml's AVX-512 expf).
    public static func swiglu(_ a: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let x = a[i]
            a[i] = (x / (1 + expf(0 - x))) * up[i]
        }
    }

    /// ggml's AVX-512 `ggml_v_expf` for one lane: n = round(x/ln 2) by the 1.5·2²³ shift, b = x − n·ln 2 in two
    /// fused steps, a degree-5 polynomial in b by fused steps, scaled by 2ⁿ; |n| > 192 gives 0 or ∞.
    public static func expf(_ x: Float) -> Float {
        let r: Float = 0x1.8p23
        let z = r.addingProduct(x, 0x1.715476p+0)
        let n = z - r
        let b = x.addingProduct(-n, 0x1.62e4p-1).addingProduct(-n, 0x1.7f7d1cp-20)
        let u = b * b
        let inner = Float(0x1.573e2ep-5).addingProduct(0x1.0e4020p-7, b)
        let outer = Float(0x1.fffdb6p-2).addingProduct(0x1.555e66p-3, b)
        let j = Float(1).addingProduct(0x1.ffffecp-1, b).addingProduct(outer.addingProduct(inner, u), u)
        guard abs(n) <= 192 else { return n <= 0 ? 0 : .infinity }
        guard j.isFinite, n.isFinite else { return .nan }
        return Float(sign: .plus, exponent: Int(n), significand: j)
    }
}
