// Legend: O rows of W (output features), I columns of W (input features); panels of 16 rows.

extension PanelMatrix {
    /// Writes W (O, I, row-major) into the panels of a `float32`, `bfloat16` or `bfloat16Dot` matrix (rounding to
    /// bf16 nearest even), panels split over threads. The one packing of the float kinds: `init(_:storage:)` and
    /// `repack(_:)`.
    /// `range`: only those panels, from rows starting at w (row 16·range.lowerBound of W).
    func packFloats(_ w: UnsafePointer<Float>, panels range: Range<Int>? = nil) {
        let range = range ?? 0..<panels
        if storage == .float32 { return packFloat32(w, panels: range) }
        let (o, i, width) = (rows, columns, Self.panelWidth)
        let dst = data.assumingMemoryBound(to: UInt16.self)
        Threading.parallelFor(range.count, minimumPerChunk: max(1, (1 << 16) / max(1, i * width))) { start, end in
            for p in (range.lowerBound + start)..<(range.lowerBound + end) {
                let panelRows = w + (p - range.lowerBound) * width * i
                if storage == .bfloat16Dot, o - p * width == width, i % 2 == 0 {
                    packBFloat16DotPanel(p, panelRows)
                    continue
                }
                for j in 0..<min(width, o - p * width) {
                    let src = panelRows + j * i
                    if storage == .bfloat16Dot {
                        for k in 0..<i { dst[pairIndex(p, j, k)] = HalfPrecision.bfloat16Bits(from: src[k]) }
                    } else {
                        let row = dst + p * i * width + j
                        for k in 0..<i { row[k * width] = HalfPrecision.bfloat16Bits(from: src[k]) }
                    }
                }
            }
        }
    }

    /// A full panel of `bfloat16Dot` from its 16 rows at `w` (I even): per column pair, the 16 rows' two weights
    /// rounded together in vector lanes and stored as one 64-byte run (what the per-weight loop writes, bit for bit).
    @inline(__always)
    func packBFloat16DotPanel(_ p: Int, _ w: UnsafePointer<Float>) {
        let (i, width) = (columns, Self.panelWidth)
        let dst = UnsafeMutableRawPointer(data.assumingMemoryBound(to: UInt16.self) + pairIndex(p, 0, 0))
        var k = 0
        while k < i {
            var low = SIMD16<UInt32>(), high = SIMD16<UInt32>()
            for j in 0..<width {
                low[j] = w[j * i + k].bitPattern; high[j] = w[j * i + k + 1].bitPattern
            }
            let pair = Self.bfloat16Bits(low) | (Self.bfloat16Bits(high) &<< 16)
            dst.storeBytes(of: pair, toByteOffset: k / 2 * width * 4, as: SIMD16<UInt32>.self)
            k += 2
        }
    }

    /// `HalfPrecision.bfloat16Bits` of 16 floats' bit patterns, in the low 16 bits of each lane.
    @inline(__always)
    static func bfloat16Bits(_ bits: SIMD16<UInt32>) -> SIMD16<UInt32> {
        let rounded = (bits &+ (0x7FFF &+ ((bits &>> 16) & 1))) &>> 16
        let quiet = (bits &>> 16) | 0x0040
        let isNaN = (bits & 0x7FFF_FFFF) .> 0x7F80_0000
        return rounded.replacing(with: quiet, where: isNaN)
    }

    /// Re-packs new weights W (O, I) of the same shape into this matrix's storage, in place (no allocation): for an
    /// engine whose weights change between uses (GRPO's rollouts after each update). Float kinds only.
    ///
    /// - Throws: `TensorError.shapeMismatch` for another shape; `TensorError.invalidArgument` for the affine kinds
    ///   (their codes come from quantization or a file's blocks: build a new matrix).
    ///
    /// `firstRow`: the rows of W given, from that row on (a multiple of 16, and the rows given end at a multiple of
    /// 16 or at O): one part of a stacked matrix (q of a fused q/k/v) re-packed alone.
    public func repack(_ w: Tensor, firstRow: Int = 0) throws {
        let (o, i) = try w.dims2("PanelMatrix.repack")
        guard i == columns, firstRow >= 0, firstRow % Self.panelWidth == 0, firstRow + o <= rows,
              o % Self.panelWidth == 0 || firstRow + o == rows, o > 0 else {
            throw TensorError.shapeMismatch(operation: "PanelMatrix.repack (rows from \(firstRow), whole panels)", lhs: w.shape, rhs: [rows, columns])
        }
        guard storage == .float32 || storage == .bfloat16 || storage == .bfloat16Dot else {
            throw TensorError.invalidArgument(operation: "PanelMatrix.repack", message: "\(storage) codes are not re-packed in place: build a new matrix")
        }
        let first = firstRow / Self.panelWidth
        w.withUnsafeBufferPointer { packFloats($0.baseAddress!, panels: first..<(first + (o + Self.panelWidth - 1) / Self.panelWidth)) }
    }
}
