// Legend: I columns of W; a the activation codes of one row of x, dₐ their block scales.

/// The dot products of `GGMLBlockMatrix`, each in the float order of the llama.cpp kernel it stands for
/// (the integer parts are exact in any order). `addingProduct` is a fused multiply-add, as the kernels' fmadd.
extension GGMLBlockMatrix.Segment {
    /// Output `row` of this segment against one activation row; `batch` rows of x are in the call, and
    /// `grouped` says this row goes through llama.cpp's 4-row kernel.
    func dot(row: Int, _ a: GGMLActivationRow, columns: Int, batch: Int, grouped: Bool) -> Float {
        if type == .f16 { return batch >= 2 ? dotF16Tiled(row: row, a, columns: columns) : dotF16(row: row, a, columns: columns) }
        return codes.withUnsafeBufferPointer { wc in a.codes.withUnsafeBufferPointer { ac in
            let w = wc.baseAddress! + row * columns, x = ac.baseAddress!
            switch type {
            case .q4_0 where repacked: return dotBlocks(row: row, w, x, a, columns: columns)
            case .q8_0, .q4_0, .q4_1: return dotLanes(row: row, w, x, a, columns: columns)
            case .q4_K: return dotQ4K(row: row, w, x, a, columns: columns, pairs: grouped)
            default: preconditionFailure("checked by GGMLBlockMatrix.supports(_:columns:)")
            }
        } }
    }

    /// Σ_j w[j]·a[j] over `count` codes, exactly.
    @inline(__always)
    static func integerDot(_ w: UnsafePointer<Int8>, _ a: UnsafePointer<Int8>, _ count: Int) -> Int32 {
        var total: Int32 = 0
        for j in 0..<count { total &+= Int32(w[j]) &* Int32(a[j]) }
        return total
    }

    /// q8_0, q4_1 (and q4_0 not repacked): 8 lanes of 4 consecutive products per block of 32, one fma per lane
    /// and block, then `hsum_float_8`; q4_1 adds Σ m·sₐ (products of two f16 values: exact) in block order.
    func dotLanes(row: Int, _ w: UnsafePointer<Int8>, _ x: UnsafePointer<Int8>, _ a: GGMLActivationRow, columns: Int) -> Float {
        let blocks = columns / 32
        var acc = SIMD8<Float>(), offsets: Float = 0
        for b in 0..<blocks {
            if type == .q4_1 { offsets += mins[row * blocks + b] * a.sums[b] }
            let d = scales[row * blocks + b] * a.scales[b]
            var lanes = SIMD8<Float>()
            for l in 0..<8 { lanes[l] = Float(Self.integerDot(w + b * 32 + 4 * l, x + b * 32 + 4 * l, 4)) }
            acc = acc.addingProduct(SIMD8(repeating: d), lanes)
        }
        let four = acc.highHalf + acc.lowHalf
        return ((four[0] + four[2]) + (four[1] + four[3])) + offsets
    }

    /// Repacked q4_0: one fma per block of 32, block after block.
    func dotBlocks(row: Int, _ w: UnsafePointer<Int8>, _ x: UnsafePointer<Int8>, _ a: GGMLActivationRow, columns: Int) -> Float {
        let blocks = columns / 32
        var acc: Float = 0
        for b in 0..<blocks {
            acc = acc.addingProduct(Float(Self.integerDot(w + b * 32, x + b * 32, 32)), scales[row * blocks + b] * a.scales[b])
        }
        return acc
    }

    /// Repacked q4_K: scaled and min sums accumulated per super-block (1-row kernel) or per pair of 32-groups
    /// (4-row kernel), subtracted at the end.
    func dotQ4K(row: Int, _ w: UnsafePointer<Int8>, _ x: UnsafePointer<Int8>, _ a: GGMLActivationRow, columns: Int, pairs: Bool) -> Float {
        let blocks = columns / 256
        var acc: Float = 0, accMin: Float = 0
        for b in 0..<blocks {
            let g0 = (row * blocks + b) * 8
            let d = scales[row * blocks + b] * a.scales[b], dmin = mins[row * blocks + b] * a.scales[b]
            var sum: Int32 = 0, sumMin: Int32 = 0
            for g in 0..<8 {
                let off = b * 256 + g * 32
                sum &+= groupScales[g0 + g] &* Self.integerDot(w + off, x + off, 32)
                sumMin &+= groupMins[g0 + g] &* (a.groupSums[b * 16 + 2 * g] &+ a.groupSums[b * 16 + 2 * g + 1])
                if pairs, g % 2 == 1 {
                    acc = acc.addingProduct(Float(sum), d); accMin = accMin.addingProduct(Float(sumMin), dmin)
                    (sum, sumMin) = (0, 0)
                }
            }
            if !pairs { acc = acc.addingProduct(Float(sum), d); accMin = accMin.addingProduct(Float(sumMin), dmin) }
        }
        return acc - accMin
    }

    /// f16 with N ≥ 2 (tinyBLAS, 16 lanes of one register): lane k % 16 over k, then the AVX-512 reduction.
    func dotF16Tiled(row: Int, _ a: GGMLActivationRow, columns: Int) -> Float {
        values.withUnsafeBufferPointer { wv in a.values.withUnsafeBufferPointer { xv in
            let w = wv.baseAddress! + row * columns, x = xv.baseAddress!
            var acc = SIMD16<Float>()
            for k in stride(from: 0, to: columns, by: 16) {
                acc = acc.addingProduct(UnsafeRawPointer(w + k).loadUnaligned(as: SIMD16<Float>.self),
                                        UnsafeRawPointer(x + k).loadUnaligned(as: SIMD16<Float>.self))
            }
            return GGMLElementwise.reduce(acc)
        } }
    }

    /// f16 with N = 1: `ggml_vec_dot_f16`.
    func dotF16(row: Int, _ a: GGMLActivationRow, columns: Int) -> Float {
        values.withUnsafeBufferPointer { wv in a.values.withUnsafeBufferPointer { xv in
            GGMLElementwise.dotF16(wv.baseAddress! + row * columns, xv.baseAddress!, count: columns)
        } }
    }
}
