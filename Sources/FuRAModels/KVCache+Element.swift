import FuRATensor

/// An element type a `KVCache` stores keys and values in: f32 (exact) or f16 (half the bytes).
protocol KVCacheElement {
    /// The element nearest to `value`.
    init(_ value: Float)
    /// 16 consecutive elements at p as floats.
    static func load16(_ p: UnsafePointer<Self>) -> SIMD16<Float>
}

extension Float: KVCacheElement {
    @inline(__always) static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> { Kernels.load(p) }
}

extension Float16: KVCacheElement {
    /// Lane loop, not the generic SIMD conversion (that compiles to an out-of-line call); LLVM turns
    /// it into one vcvtph2ps.
    @inline(__always) static func load16(_ p: UnsafePointer<Float16>) -> SIMD16<Float> {
        let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float16>.self)
        var f = SIMD16<Float>()
        for i in 0..<16 { f[i] = Float(h[i]) }
        return f
    }
}
