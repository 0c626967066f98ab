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

    /// Rounds every element to the nearest bf16 value (keeps `Float` storage).
    public static func roundToBFloat16(_ values: inout [Float]) {
        for i in values.indices { values[i] = float(fromBFloat16Bits: bfloat16Bits(from: values[i])) }
    }
}
