// Legend: O rows of W (output features), I columns of W (input features); panels of 16 rows, K = ⌈I/2⌉ column pairs.

extension PanelMatrix {
    /// This `float32` matrix rounded into a new `bfloat16Dot` one (nearest even, as `init(_:storage: .bfloat16Dot)` of the
    /// same weights, bit for bit): per panel, columns 2t and 2t + 1 (16 floats each, contiguous) become pair t's 64 bytes.
    /// For weights formed as f32 panels (the BTT forward's W_eff) that are then multiplied in bf16.
    ///
    /// - Throws: `TensorError.invalidArgument` unless the storage is `float32`.
    public func bfloat16DotCopy() throws -> PanelMatrix {
        guard storage == .float32 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix.bfloat16DotCopy", message: "needs float32 panels, not \(storage)")
        }
        let out = PanelMatrix(rows: rows, columns: columns, storage: .bfloat16Dot, zeroed: false)
        let (i, width, pairs) = (columns, Self.panelWidth, out.paddedColumns / 2)
        let src = UnsafePointer(data.assumingMemoryBound(to: Float.self))
        let dst = out.data
        Threading.parallelFor(panels, minimumPerChunk: max(1, (1 << 16) / max(1, i * width))) { start, end in
            for p in start..<end {
                let panel = src + p * i * width
                for t in 0..<pairs {
                    let low = UnsafeRawPointer(panel + 2 * t * width).loadUnaligned(as: SIMD16<UInt32>.self)
                    let high = 2 * t + 1 < i ? UnsafeRawPointer(panel + (2 * t + 1) * width).loadUnaligned(as: SIMD16<UInt32>.self)
                                             : SIMD16<UInt32>()
                    let pair = Self.bfloat16Bits(low) | (Self.bfloat16Bits(high) &<< 16)
                    dst.storeBytes(of: pair, toByteOffset: ((p * pairs + t) * width) * 4, as: SIMD16<UInt32>.self)
                }
            }
        }
        return out
    }

    /// W (O, I) given row-major at `w`, rounded into bf16 pairs (`bfloat16Dot`): for y = x·Wᵀ with a decoded tile.
    public static func bfloat16Dot(rows o: Int, columns i: Int, from w: UnsafePointer<Float>) -> PanelMatrix {
        let m = PanelMatrix(rows: o, columns: i, storage: .bfloat16Dot)
        m.packFloats(w)
        return m
    }

    /// Wᵀ (I, O) of W (O, I) given row-major at `w`, rounded into bf16 pairs: for dX = dY·W with a decoded tile.
    public static func bfloat16DotTransposed(rows o: Int, columns i: Int, from w: UnsafePointer<Float>) throws -> PanelMatrix {
        let f32 = PanelMatrix(rows: i, columns: o, storage: .float32, zeroed: i % panelWidth != 0)
        f32.storeTransposed(w)
        return try f32.bfloat16DotCopy()
    }
}
