import FuRATensor

/// Encoders of the GGUF block types fura writes (the decoders are `GGMLDequantize`; layouts in GGUF+Quant.swift):
/// q8_0, q4_0 (as llama.cpp's reference quantizer) and q4_K (per-group min/max, scales and mins to 6 bits).
public enum GGUFQuantize {
    /// Q8_0 blocks of 32: `d = max|x| / 127` as f16, `q = round(x / d)`.
    public static func q8_0(_ values: UnsafeBufferPointer<Float>, to out: inout [UInt8]) {
        precondition(values.count % 32 == 0, "Q8_0 needs whole blocks of 32")
        for block in 0..<(values.count / 32) {
            let x = values[(block * 32)..<(block * 32 + 32)]
            let amax = x.reduce(Float(0)) { max($0, abs($1)) }
            let d = amax / 127
            let inverse: Float = d == 0 ? 0 : 1 / d
            append(HalfPrecision.float16Bits(from: d), to: &out)
            for v in x { out.append(UInt8(bitPattern: Int8(max(-127, min(127, (v * inverse).rounded()))))) }
        }
    }

    /// Q4_0 blocks of 32: the element of largest magnitude `m` (with its sign) sets `d = m / −8` (f16), and element
    /// j is stored as `min(15, ⌊x/d + 8.5⌋)` (j < 16 in the low nibble of byte j, the rest in the high nibbles).
    public static func q4_0(_ values: UnsafeBufferPointer<Float>, to out: inout [UInt8]) {
        precondition(values.count % 32 == 0, "Q4_0 needs whole blocks of 32")
        for block in 0..<(values.count / 32) {
            let base = block * 32
            var extreme: Float = 0
            for j in 0..<32 where abs(values[base + j]) > abs(extreme) { extreme = values[base + j] }
            let d = extreme / -8
            let inverse: Float = d == 0 ? 0 : 1 / d
            append(HalfPrecision.float16Bits(from: d), to: &out)
            func level(_ x: Float) -> UInt8 { UInt8(min(15, max(0, Int((x * inverse + 8.5).rounded(.towardZero))))) }
            for j in 0..<16 { out.append(level(values[base + j]) | level(values[base + j + 16]) << 4) }
        }
    }

    /// Q4_K super-blocks of 256 (8 groups of 32): each group's range [min(0, x), max x] gives a scale (range / 15)
    /// and a min; `d` and `dmin` (f16) are the largest of them over 63, each group's scale and min are stored as
    /// 6-bit multiples of those, and elements as `round((x + min) / scale)` in 0…15 against the stored values.
    public static func q4_K(_ values: UnsafeBufferPointer<Float>, to out: inout [UInt8]) {
        precondition(values.count % 256 == 0, "Q4_K needs whole blocks of 256")
        for block in 0..<(values.count / 256) {
            let base = block * 256
            var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
            for g in 0..<8 {
                var lo: Float = 0, hi = -Float.infinity
                for l in 0..<32 {
                    let x = values[base + 32 * g + l]
                    lo = min(lo, x); hi = max(hi, x)
                }
                scales[g] = max(hi - lo, 0) / 15
                mins[g] = -lo
            }
            let dBits = HalfPrecision.float16Bits(from: (scales.max() ?? 0) / 63)
            let dminBits = HalfPrecision.float16Bits(from: (mins.max() ?? 0) / 63)
            let d = HalfPrecision.float(fromFloat16Bits: dBits), dmin = HalfPrecision.float(fromFloat16Bits: dminBits)
            func sixBits(_ v: Float, _ unit: Float) -> UInt8 { unit > 0 ? UInt8(min(63, max(0, (v / unit).rounded()))) : 0 }
            let sc = scales.map { sixBits($0, d) }, mn = mins.map { sixBits($0, dmin) }
            append(dBits, to: &out)
            append(dminBits, to: &out)
            var packed = [UInt8](repeating: 0, count: 12)
            for j in 0..<4 {
                packed[j] = sc[j] & 63 | (sc[j + 4] >> 4) << 6
                packed[j + 4] = mn[j] & 63 | (mn[j + 4] >> 4) << 6
                packed[j + 8] = sc[j + 4] & 0xF | (mn[j + 4] & 0xF) << 4
            }
            out.append(contentsOf: packed)
            var q = [UInt8](repeating: 0, count: 256)
            for g in 0..<8 {
                let step = d * Float(sc[g]), offset = dmin * Float(mn[g])
                for l in 0..<32 {
                    let x = values[base + 32 * g + l]
                    q[32 * g + l] = step > 0 ? UInt8(min(15, max(0, ((x + offset) / step).rounded()))) : 0
                }
            }
            for chunk in 0..<4 {
                for l in 0..<32 { out.append(q[64 * chunk + l] | q[64 * chunk + 32 + l] << 4) }
            }
        }
    }

    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}
