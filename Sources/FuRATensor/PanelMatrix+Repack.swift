// Legend: O rows of W (output features), I columns of W (input features); panels of 16 rows.

extension PanelMatrix {
    /// Writes W (O, I, row-major) into the panels of a `float32`, `bfloat16` or `bfloat16Dot` matrix (rounding to
    /// bf16 nearest even), panels split over threads. The one packing of the float kinds: `init(_:storage:)` and
    /// `repack(_:)`.
    func packFloats(_ w: UnsafePointer<Float>) {
        if storage == .float32 { return packFloat32(w) }
        let (o, i, width) = (rows, columns, Self.panelWidth)
        let dst = data.assumingMemoryBound(to: UInt16.self)
        Threading.parallelFor(panels, minimumPerChunk: max(1, (1 << 16) / max(1, i * width))) { start, end in
            for p in start..<end {
                for j in 0..<min(width, o - p * width) {
                    let src = w + (p * width + j) * i
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

    /// Re-packs new weights W (O, I) of the same shape into this matrix's storage, in place (no allocation): for an
    /// engine whose weights change between uses (GRPO's rollouts after each update). Float kinds only.
    ///
    /// - Throws: `TensorError.shapeMismatch` for another shape; `TensorError.invalidArgument` for the affine kinds
    ///   (their codes come from quantization or a file's blocks: build a new matrix).
    public func repack(_ w: Tensor) throws {
        let (o, i) = try w.dims2("PanelMatrix.repack")
        guard o == rows, i == columns else {
            throw TensorError.shapeMismatch(operation: "PanelMatrix.repack", lhs: w.shape, rhs: [rows, columns])
        }
        guard storage == .float32 || storage == .bfloat16 || storage == .bfloat16Dot else {
            throw TensorError.invalidArgument(operation: "PanelMatrix.repack", message: "\(storage) codes are not re-packed in place: build a new matrix")
        }
        w.withUnsafeBufferPointer { packFloats($0.baseAddress!) }
    }
}
