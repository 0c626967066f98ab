import FuRATensor

/// Dequantization of ggml block formats to `Float`: a fast block-wise path and a per-element scalar reference.
///
/// Block layouts (little-endian, `d`/`m`/`dmin` are f16 unless noted), `QK_K = 256`:
/// - q8_0: `d, qs[32]: int8`; x = d·q
/// - q4_0: `d, qs[16]`; element j<16 is the low nibble of qs[j], j≥16 the high nibble of qs[j−16]; x = d·(q−8)
/// - q4_1: `d, m, qs[16]`; x = d·q + m (nibbles as q4_0)
/// - q5_0 / q5_1: like q4_0 / q4_1 with a 5th bit, element j's bit is bit j of `qh: uint32`; q5_0 subtracts 16
/// - q4_K: `d, dmin, scales[12], qs[128]`; 8 groups of 32 with 6-bit scale/min pairs; x = d·sc·q − dmin·mn
/// - q5_K: `d, dmin, scales[12], qh[32], qs[128]`; as q4_K plus bit g of qh[l] for group g
/// - q6_K: `ql[128], qh[64], scales[16]: int8, d`; x = d·sc·(q−32)
/// - q8_K: `d: f32, qs[256]: int8, bsums[16]: int16`; x = d·q
public enum GGMLDequantize {
    /// Decodes `count` elements of `type` from `raw` into `out` (fast path, parallel over blocks).
    ///
    /// Throws when the type is not supported or the sizes disagree.
    public static func dequantize(_ raw: UnsafeRawBufferPointer, type: GGMLType, count: Int, into out: UnsafeMutableBufferPointer<Float>) throws {
        try checkSizes(raw, type: type, count: count, outCount: out.count)
        guard count > 0, let src = raw.baseAddress, let dst = out.baseAddress else { return }
        let (per, bytes) = type.blockGeometry
        let decode: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void
        switch type {
        case .f32:
            // SAFETY: checkSizes proved raw holds 4·count bytes and out holds count floats.
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
            return
        case .f16:
            Threading.parallelFor(count, minimumPerChunk: 1 << 16) { start, end in
                HalfPrecision.decodeFloat16(UnsafeRawBufferPointer(start: src + 2 * start, count: 2 * (end - start)), count: end - start, into: dst + start)
            }
            return
        case .bf16:
            Threading.parallelFor(count, minimumPerChunk: 1 << 16) { start, end in
                HalfPrecision.decodeBFloat16(UnsafeRawBufferPointer(start: src + 2 * start, count: 2 * (end - start)), count: end - start, into: dst + start)
            }
            return
        case .q8_0: decode = blockQ8_0
        case .q4_0: decode = blockQ4_0
        case .q4_1: decode = blockQ4_1
        case .q5_0: decode = { s, d in blockQ5(s, d, hasMin: false) }
        case .q5_1: decode = { s, d in blockQ5(s, d, hasMin: true) }
        case .q4_K: decode = blockQ4_K
        case .q5_K: decode = blockQ5_K
        case .q6_K: decode = blockQ6_K
        case .q8_K: decode = blockQ8_K
        default: throw TensorError.invalidArgument(operation: "dequantize", message: "ggml type \(type) is not supported")
        }
        Threading.parallelFor(count / per, minimumPerChunk: 2048) { start, end in
            for b in start..<end { decode(src + b * bytes, dst + b * per) }
        }
    }

    /// The same decoding one element at a time, straight from the layout (the reference for tests).
    public static func dequantizeReference(_ raw: UnsafeRawBufferPointer, type: GGMLType, count: Int) throws -> [Float] {
        try checkSizes(raw, type: type, count: count, outCount: count)
        let (per, bytes) = type.blockGeometry
        func u8(_ o: Int) -> Int { Int(raw[o]) }
        func i8(_ o: Int) -> Int { Int(Int8(bitPattern: raw[o])) }
        func f16(_ o: Int) -> Float { HalfPrecision.float(fromFloat16Bits: UInt16(raw[o]) | UInt16(raw[o + 1]) << 8) }
        func nibble(_ o: Int, high: Bool) -> Int { high ? u8(o) >> 4 : u8(o) & 0xF }
        /// The 6-bit scale and min of group g (0…7) of a q4_K/q5_K block whose 12 scale bytes start at s.
        func scaleMin(_ s: Int, _ g: Int) -> (Float, Float) {
            if g < 4 { return (Float(u8(s + g) & 63), Float(u8(s + g + 4) & 63)) }
            let sc = (u8(s + g + 4) & 0xF) | ((u8(s + g - 4) >> 6) << 4)
            let mn = (u8(s + g + 4) >> 4) | ((u8(s + g) >> 6) << 4)
            return (Float(sc), Float(mn))
        }
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let b = (i / per) * bytes, j = i % per
            switch type {
            case .f32: out[i] = Float(bitPattern: UInt32(u8(4 * i)) | UInt32(u8(4 * i + 1)) << 8 | UInt32(u8(4 * i + 2)) << 16 | UInt32(u8(4 * i + 3)) << 24)
            case .f16: out[i] = f16(2 * i)
            case .bf16: out[i] = HalfPrecision.float(fromBFloat16Bits: UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8)
            case .q8_0: out[i] = f16(b) * Float(i8(b + 2 + j))
            case .q4_0: out[i] = f16(b) * Float(nibble(b + 2 + j % 16, high: j >= 16) - 8)
            case .q4_1: out[i] = f16(b) * Float(nibble(b + 4 + j % 16, high: j >= 16)) + f16(b + 2)
            case .q5_0, .q5_1:
                let hasMin = type == .q5_1
                let qhOffset = b + (hasMin ? 4 : 2)
                let bit = (u8(qhOffset + j / 8) >> (j % 8)) & 1
                let q = nibble(qhOffset + 4 + j % 16, high: j >= 16) | bit << 4
                out[i] = hasMin ? f16(b) * Float(q) + f16(b + 2) : f16(b) * Float(q - 16)
            case .q4_K, .q5_K:
                let g = j / 32, l = j % 32
                let (sc, mn) = scaleMin(b + 4, g)
                let qsOffset = b + (type == .q4_K ? 16 : 48)
                var q = nibble(qsOffset + (g / 2) * 32 + l, high: g % 2 == 1)
                if type == .q5_K { q += ((u8(b + 16 + l) >> g) & 1) * 16 }
                out[i] = f16(b) * sc * Float(q) - f16(b + 2) * mn
            case .q6_K:
                let half = j / 128, quarter = (j % 128) / 32, l = j % 32
                let low = nibble(b + half * 64 + l + (quarter % 2) * 32, high: quarter >= 2)
                let high = (u8(b + 128 + half * 32 + l) >> (2 * quarter)) & 3
                let sc = Float(i8(b + 192 + half * 8 + l / 16 + 2 * quarter))
                out[i] = f16(b + 208) * sc * Float((low | high << 4) - 32)
            case .q8_K:
                let d = Float(bitPattern: UInt32(u8(b)) | UInt32(u8(b + 1)) << 8 | UInt32(u8(b + 2)) << 16 | UInt32(u8(b + 3)) << 24)
                out[i] = d * Float(i8(b + 4 + j))
            default: throw TensorError.invalidArgument(operation: "dequantizeReference", message: "ggml type \(type) is not supported")
            }
        }
        return out
    }

    static func checkSizes(_ raw: UnsafeRawBufferPointer, type: GGMLType, count: Int, outCount: Int) throws {
        guard let needed = type.byteCount(elements: count) else {
            throw TensorError.invalidArgument(operation: "dequantize \(type)", message: "\(count) elements is not a whole number of \(type.blockGeometry.elements)-element blocks")
        }
        guard raw.count >= needed, outCount == count else {
            throw TensorError.invalidArgument(operation: "dequantize \(type)", message: "need \(needed) bytes and \(count) outputs, got \(raw.count) bytes and \(outCount) outputs")
        }
    }

    // MARK: Fast block decoders (SAFETY: callers pass a whole block of input and room for a whole block of output)

    @inline(__always) static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.float(fromFloat16Bits: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always) static func store(_ v: SIMD16<Float>, _ dst: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(dst).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    static func blockQ8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        let d = half(src, 0)
        let lo = src.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)
        let hi = src.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)
        store(SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: lo)) * d, dst)
        store(SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: hi)) * d, dst + 16)
    }

    static func blockQ4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        let d = half(src, 0)
        let q = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self))
        store(SIMD16<Float>((q & 0xF) &- 8) * d, dst)
        store(SIMD16<Float>((q &>> 4) &- 8) * d, dst + 16)
    }

    static func blockQ4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        let d = half(src, 0), m = half(src, 2)
        let q = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self))
        store(SIMD16<Float>(q & 0xF) * d + m, dst)
        store(SIMD16<Float>(q &>> 4) * d + m, dst + 16)
    }

    static func blockQ5(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, hasMin: Bool) {
        let d = half(src, 0)
        let m: Float = hasMin ? half(src, 2) : 0
        let base = hasMin ? 4 : 2
        let qh = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: base, as: UInt32.self))
        let bits = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let hiLow = SIMD16<Int32>(truncatingIfNeeded: ((SIMD16(repeating: qh) &>> bits) & 1) &<< 4)
        let hiHigh = SIMD16<Int32>(truncatingIfNeeded: ((SIMD16(repeating: qh) &>> (bits &+ 16)) & 1) &<< 4)
        let q = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: base + 4, as: SIMD16<UInt8>.self))
        let offset: Int32 = hasMin ? 0 : 16
        store(SIMD16<Float>(((q & 0xF) | hiLow) &- offset) * d + m, dst)
        store(SIMD16<Float>(((q &>> 4) | hiHigh) &- offset) * d + m, dst + 16)
    }

    /// The 6-bit scale and min of group j of a K-quant block (`scales` points at its 12 bytes).
    @inline(__always) static func scaleMinK4(_ j: Int, _ scales: UnsafePointer<UInt8>) -> (Float, Float) {
        if j < 4 { return (Float(scales[j] & 63), Float(scales[j + 4] & 63)) }
        return (Float((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4)), Float((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4)))
    }

    static func blockQ4_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        let d = half(src, 0), dmin = half(src, 2)
        let scales = (src + 4).assumingMemoryBound(to: UInt8.self)
        var y = dst
        for chunk in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * chunk, scales), (sc2, m2) = scaleMinK4(2 * chunk + 1, scales)
            let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
            for h in 0..<2 {
                let q = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: 16 + chunk * 32 + h * 16, as: SIMD16<UInt8>.self))
                store(SIMD16<Float>(q & 0xF) * d1 - mm1, y + h * 16)
                store(SIMD16<Float>(q &>> 4) * d2 - mm2, y + 32 + h * 16)
            }
            y += 64
        }
    }

    static func blockQ5_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        let d = half(src, 0), dmin = half(src, 2)
        let scales = (src + 4).assumingMemoryBound(to: UInt8.self)
        var y = dst
        for chunk in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * chunk, scales), (sc2, m2) = scaleMinK4(2 * chunk + 1, scales)
            let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
            let shiftLow = Int32(2 * chunk), shiftHigh = Int32(2 * chunk + 1)
            for h in 0..<2 {
                let q = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: 48 + chunk * 32 + h * 16, as: SIMD16<UInt8>.self))
                let qh = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: 16 + h * 16, as: SIMD16<UInt8>.self))
                store(SIMD16<Float>((q & 0xF) | (((qh &>> shiftLow) & 1) &<< 4)) * d1 - mm1, y + h * 16)
                store(SIMD16<Float>((q &>> 4) | (((qh &>> shiftHigh) & 1) &<< 4)) * d2 - mm2, y + 32 + h * 16)
            }
            y += 64
        }
    }

    static func blockQ6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        let d = half(src, 208)
        for half in 0..<2 {
            let ql = 64 * half, qh = 128 + 32 * half, sc = 192 + 8 * half
            let y = dst + 128 * half
            for h in 0..<2 {
                let l = 16 * h
                let a = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: ql + l, as: SIMD16<UInt8>.self))
                let b = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: ql + 32 + l, as: SIMD16<UInt8>.self))
                let hb = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: qh + l, as: SIMD16<UInt8>.self))
                let s = { (k: Int) in d * Float(src.load(fromByteOffset: sc + h + 2 * k, as: Int8.self)) }
                store(SIMD16<Float>(((a & 0xF) | ((hb & 3) &<< 4)) &- 32) * s(0), y + l)
                store(SIMD16<Float>(((b & 0xF) | (((hb &>> 2) & 3) &<< 4)) &- 32) * s(1), y + 32 + l)
                store(SIMD16<Float>(((a &>> 4) | (((hb &>> 4) & 3) &<< 4)) &- 32) * s(2), y + 64 + l)
                store(SIMD16<Float>(((b &>> 4) | (((hb &>> 6) & 3) &<< 4)) &- 32) * s(3), y + 96 + l)
            }
        }
    }

    static func blockQ8_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        let d = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(as: UInt32.self)))
        for k in 0..<16 {
            let q = src.loadUnaligned(fromByteOffset: 4 + 16 * k, as: SIMD16<Int8>.self)
            store(SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: q)) * d, dst + 16 * k)
        }
    }
}
