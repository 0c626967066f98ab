import FuRATensor

/// What llama.cpp's CPU backend turns an f32 activation row into before a dot product with weights of a
/// given GGML type (ggml's `vec_dot_type`): 8-bit blocks of 32 (q8_0, or q8_1 with the block sums), 8-bit
/// blocks of 256 (q8_K) or f16.
public enum GGMLActivationType: Sendable {
    case q8_0, q8_1, q8_K, f16
}

extension GGMLType {
    /// The activation form llama.cpp's CPU backend pairs with weights of this type; nil for the types
    /// `GGMLBlockMatrix` does not compute with.
    public var llamaCppActivationType: GGMLActivationType? {
        switch self {
        case .q4_0, .q8_0: return .q8_0
        case .q4_1: return .q8_1
        case .q4_K: return .q8_K
        case .f16: return .f16
        default: return nil
        }
    }
}

/// One activation row in a `GGMLActivationType`, quantized exactly as ggml's x86 CPU code does it
/// (`quantize_row_q8_0` with AVX, `quantize_row_q8_K_ref`, and their 4-row forms; `GGML_CPU_FP32_TO_FP16`):
///
/// - q8_0, per block of 32: amax = max |x|, d = amax / 127 stored as f16, codes round-half-even(x · (127 / amax))
///   (all 0 when amax is 0); q8_1 also keeps s = f16(d · Σ codes) with d unrounded.
/// - q8_K, per block of 256: m = the element of largest |x| (the first one), iscale = −127 / m,
///   codes min(127, round-half-even(iscale · x)), d = 1 / iscale (f32), and the code sums of each 16.
/// - f16: each value rounded to f16 (round-half-even).
public struct GGMLActivationRow {
    public let type: GGMLActivationType
    /// One code per element (q8 kinds).
    public private(set) var codes: [Int8] = []
    /// Per block: d (f16-rounded for q8_0, f32 for q8_K).
    public private(set) var scales: [Float] = []
    /// q8_1: per block of 32, s = f16(d · Σ codes).
    public private(set) var sums: [Float] = []
    /// q8_K: per group of 16 elements, Σ codes.
    public private(set) var groupSums: [Int32] = []
    /// f16: the values rounded to f16.
    public private(set) var values: [Float] = []

    /// Quantizes `x[0..<count]`; `count` must be a whole number of the type's blocks (32, or 256 for q8_K).
    public init(_ x: UnsafePointer<Float>, count: Int, type: GGMLActivationType) {
        self.type = type
        switch type {
        case .f16:
            values = (0..<count).map { Float(Float16(x[$0])) }
        case .q8_0, .q8_1:
            precondition(count % 32 == 0, "q8_0 rows are whole blocks of 32")
            codes = [Int8](repeating: 0, count: count)
            scales.reserveCapacity(count / 32)
            for b in 0..<(count / 32) {
                let block = x + b * 32
                var amax: Float = 0
                for j in 0..<32 { amax = max(amax, abs(block[j])) }
                let inverse: Float = amax != 0 ? 127 / amax : 0
                var total: Int32 = 0
                for j in 0..<32 {
                    codes[b * 32 + j] = Self.code(block[j] * inverse)
                    total += Int32(codes[b * 32 + j])
                }
                scales.append(Float(Float16(amax / 127)))
                if type == .q8_1 { sums.append(Float(Float16(amax / 127 * Float(total)))) }
            }
        case .q8_K:
            precondition(count % 256 == 0, "q8_K rows are whole blocks of 256")
            codes = [Int8](repeating: 0, count: count)
            groupSums = [Int32](repeating: 0, count: count / 16)
            for b in 0..<(count / 256) {
                let block = x + b * 256
                var amax: Float = 0, signedMax: Float = 0
                for j in 0..<256 where abs(block[j]) > amax { amax = abs(block[j]); signedMax = block[j] }
                guard amax != 0 else { scales.append(0); continue }
                let iscale = -127 / signedMax
                for j in 0..<256 {
                    let q = Self.code(iscale * block[j])
                    codes[b * 256 + j] = q
                    groupSums[b * 16 + j / 16] += Int32(q)
                }
                scales.append(1 / iscale)
            }
        }
    }

    /// round-half-even(v) as a code in −128…127 (ggml's rounding and saturation; non-finite values, which
    /// ggml would turn into garbage, become 0 here and leave a non-finite scale behind).
    @inline(__always) static func code(_ v: Float) -> Int8 {
        guard v.isFinite else { return 0 }
        return Int8(max(-128, min(127, v.rounded(.toNearestOrEven))))
    }
}
