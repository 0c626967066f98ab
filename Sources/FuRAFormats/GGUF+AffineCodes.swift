import FuRATensor

// Legend: I elements of a row, B elements per affine block (16 or 32), q a stored code.

/// GGUF rows re-expressed as affine codes: value = Float(code)·scale + offset per block of B elements,
/// with the codes, scales and offsets chosen so that this formula gives, bit for bit, the value
/// `GGMLDequantize` gives (the loader's weights). What `PanelMatrix`'s affine kinds hold, so a
/// generation engine can multiply by a file's own blocks without widening them to f32.
///
/// | type | bits | B | code | scale | offset |
/// |---|---|---|---|---|---|
/// | q8_0 | 8 | 32 | q | d | 0 |
/// | q4_0 | 8 | 32 | q − 8 | d | 0 |
/// | q5_0 | 8 | 32 | q − 16 | d | 0 |
/// | q4_1 | 4 | 32 | q | d | m |
/// | q4_K | 4 | 32 | q | d·sc | −(dmin·mn) |
/// | q6_K | 8 | 16 | q − 32 | d·sc | 0 |
///
/// (q4_0 and q5_0 take 8-bit codes because `Float(q − 8)·d` is not `Float(q)·d − 8d` in floats.) The K-quants
/// also have a super-block form (`PanelMatrix.SuperBlockRow`): sc and mn stay 8-bit codes and d, dmin one f32
/// each per 256 elements, as in the file.
public enum GGUFAffineCodes {
    /// How a type's rows are held: code bits, block size B, and blocks per super-block (0: an f32 scale and
    /// offset per block).
    public struct Layout: Equatable, Sendable {
        public let bits: Int
        public let blockSize: Int
        public let blocksPerSuperBlock: Int
    }

    /// The layout of `type`'s affine form (K-quants in their super-block form), or nil for a type without one.
    public static func layout(of type: GGMLType) -> Layout? {
        switch type {
        case .q8_0, .q4_0, .q5_0: return Layout(bits: 8, blockSize: 32, blocksPerSuperBlock: 0)
        case .q4_1: return Layout(bits: 4, blockSize: 32, blocksPerSuperBlock: 0)
        case .q4_K: return Layout(bits: 4, blockSize: 32, blocksPerSuperBlock: 8)
        case .q6_K: return Layout(bits: 8, blockSize: 16, blocksPerSuperBlock: 16)
        default: return nil
        }
    }

    /// Decodes one row of I elements of `type` at `row` into I codes and I/B f32 scales and offsets.
    /// The caller checks I against the type's block size (`GGMLType.byteCount(elements:)`).
    public static func decodeRow(_ row: UnsafeRawPointer, type: GGMLType, count: Int, codes: UnsafeMutablePointer<Int8>,
                                 scales: UnsafeMutablePointer<Float>, offsets: UnsafeMutablePointer<Float>) {
        if let layout = layout(of: type), layout.blocksPerSuperBlock > 0 {
            let blocks = count / layout.blockSize, supers = blocks / layout.blocksPerSuperBlock
            var sc = [Int8](repeating: 0, count: blocks), mc = sc, fs = [Float](repeating: 0, count: supers), fm = fs
            sc.withUnsafeMutableBufferPointer { psc in mc.withUnsafeMutableBufferPointer { pmc in
                fs.withUnsafeMutableBufferPointer { pfs in fm.withUnsafeMutableBufferPointer { pfm in
                    decodeSuperBlockRow(row, type: type, count: count,
                                        into: PanelMatrix.SuperBlockRow(codes: codes, scaleCodes: psc.baseAddress!, offsetCodes: pmc.baseAddress!,
                                                                        superScales: pfs.baseAddress!, superOffsets: pfm.baseAddress!))
                    for b in 0..<blocks {
                        let f = b / layout.blocksPerSuperBlock
                        scales[b] = pfs[f] * Float(psc[b]); offsets[b] = -(pfm[f] * Float(pmc[b]))
                    }
                } }
            } }
            return
        }
        let (per, bytes) = type.blockGeometry
        for b in 0..<(count / per) {
            let block = row + b * bytes, q = codes + b * per
            switch type {
            case .q8_0:
                scales[b] = GGMLDequantize.half(block, 0); offsets[b] = 0
                for j in 0..<32 { q[j] = block.load(fromByteOffset: 2 + j, as: Int8.self) }
            case .q4_0:
                scales[b] = GGMLDequantize.half(block, 0); offsets[b] = 0
                for j in 0..<16 {
                    let byte = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                    q[j] = Int8(byte & 0xF) - 8; q[j + 16] = Int8(byte >> 4) - 8
                }
            case .q5_0:
                scales[b] = GGMLDequantize.half(block, 0); offsets[b] = 0
                let high = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
                for j in 0..<16 {
                    let byte = block.load(fromByteOffset: 6 + j, as: UInt8.self)
                    q[j] = Int8((byte & 0xF) | UInt8((high >> j) & 1) << 4) - 16
                    q[j + 16] = Int8((byte >> 4) | UInt8((high >> (j + 16)) & 1) << 4) - 16
                }
            case .q4_1:
                scales[b] = GGMLDequantize.half(block, 0); offsets[b] = GGMLDequantize.half(block, 2)
                for j in 0..<16 {
                    let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                    q[j] = Int8(byte & 0xF); q[j + 16] = Int8(byte >> 4)
                }
            default:
                preconditionFailure("GGUFAffineCodes.decodeRow: \(type) has no affine form (check layout(of:) first)")
            }
        }
    }

    /// Decodes one row of a K-quant (q4_K, q6_K) into its super-block form: I codes, a scale and offset code
    /// per block, d and dmin per 256 elements.
    public static func decodeSuperBlockRow(_ row: UnsafeRawPointer, type: GGMLType, count: Int, into: PanelMatrix.SuperBlockRow) {
        let (per, bytes) = type.blockGeometry
        for b in 0..<(count / per) {
            let block = row + b * bytes, q = into.codes + b * per
            switch type {
            case .q4_K:
                // 8 groups of 32: group 2c holds the low nibbles of bytes 16 + 32c ..< 48 + 32c, group 2c + 1 the high ones.
                into.superScales[b] = GGMLDequantize.half(block, 0); into.superOffsets[b] = GGMLDequantize.half(block, 2)
                let packed = (block + 4).assumingMemoryBound(to: UInt8.self)
                for g in 0..<8 {
                    let (sc, mn) = GGMLDequantize.scaleMinK4(g, packed)
                    into.scaleCodes[b * 8 + g] = Int8(sc); into.offsetCodes[b * 8 + g] = Int8(mn)
                    let (c, high) = (g / 2, g % 2 == 1)
                    for l in 0..<32 {
                        let byte = block.load(fromByteOffset: 16 + 32 * c + l, as: UInt8.self)
                        q[32 * g + l] = Int8(high ? byte >> 4 : byte & 0xF)
                    }
                }
            case .q6_K:
                // Two halves of 128; in half h, element 32k + l (k < 4, l < 32) takes 4 low bits from ql and 2 from qh;
                // group of 16 g (0..<16) has the int8 scale at byte 192 + g.
                into.superScales[b] = GGMLDequantize.half(block, 208); into.superOffsets[b] = 0
                for g in 0..<16 {
                    into.scaleCodes[b * 16 + g] = block.load(fromByteOffset: 192 + g, as: Int8.self); into.offsetCodes[b * 16 + g] = 0
                }
                for h in 0..<2 {
                    let (ql, qh) = (64 * h, 128 + 32 * h)
                    for l in 0..<32 {
                        let a = block.load(fromByteOffset: ql + l, as: UInt8.self), c = block.load(fromByteOffset: ql + 32 + l, as: UInt8.self)
                        let hb = block.load(fromByteOffset: qh + l, as: UInt8.self)
                        let y = q + 128 * h + l
                        y[0] = Int8((a & 0xF) | ((hb & 3) << 4)) - 32
                        y[32] = Int8((c & 0xF) | (((hb >> 2) & 3) << 4)) - 32
                        y[64] = Int8((a >> 4) | (((hb >> 4) & 3) << 4)) - 32
                        y[96] = Int8((c >> 4) | (((hb >> 6) & 3) << 4)) - 32
                    }
                }
            default:
                preconditionFailure("GGUFAffineCodes.decodeSuperBlockRow: \(type) is not a K-quant with a super-block form")
            }
        }
    }
}
