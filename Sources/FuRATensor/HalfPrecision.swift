import CKernels
/// Conversions between `Float` and the 16-bit float formats of model files.
public enum HalfPrecision {
    /// IEEE half (binary16) bits to `Float`.
    @inlinable
    public static func float(fromFloat16Bits bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// `Float` to IEEE half bits (round to nearest even, overflow to ±inf).
    @inlinable
    public static func float16Bits(from value: Float) -> UInt16 { Float16(value).bitPattern }

    /// bfloat16 bits to `Float` (exact: the upper 16 bits of a binary32).
    @inlinable
    public static func float(fromBFloat16Bits bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// `Float` to bfloat16 bits, rounding to nearest even; NaN stays a quiet NaN.
    @inlinable
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// Decodes little-endian f16 bytes into floats.
    public static func decodeFloat16(_ raw: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = float(fromFloat16Bits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
    }

    /// Decodes little-endian bf16 bytes into floats.
    public static func decodeBFloat16(_ raw: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = float(fromBFloat16Bits: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
    }

    /// `count` floats to bf16 bits (nearest even) over the pool's threads, on the AVX512-BF16 conversion where the
    /// CPU has it (the same bits as `bfloat16Bits(from:)` for every finite value).
    public static func bfloat16Bits(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt16>) {
        Threading.parallelFor(count, minimumPerChunk: 1 << 16) { start, end in
            // An even count, so the kernel writes no pad into the next chunk; an odd last value here.
            let even = (end - start) & ~1
            if even > 0 { fura_bf16_round_rows(x + start, 1, even, even, out + start, even) }
            if even < end - start { out[end - 1] = bfloat16Bits(from: x[end - 1]) }
        }
    }

    /// `count` bf16 bits widened to floats (exact) over the pool's threads.
    public static func floats(fromBFloat16Bits bits: UnsafePointer<UInt16>, count: Int, into out: UnsafeMutablePointer<Float>) {
        Threading.parallelFor(count, minimumPerChunk: 1 << 16) { start, end in
            for i in start..<end { out[i] = float(fromBFloat16Bits: bits[i]) }
        }
    }

    /// Rounds every element to the nearest bf16 value (keeps `Float` storage).
    public static func roundToBFloat16(_ values: inout [Float]) {
        for i in values.indices { values[i] = float(fromBFloat16Bits: bfloat16Bits(from: values[i])) }
    }
}
