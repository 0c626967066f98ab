// Legend: N rows, O output features (rows of W), I input features (columns of W).

/// A weight W (O, I) packed for both large products of a training layer: the forward y = x·Wᵀ and the input
/// gradient dX = dY·W, each on the panel kernel at `precision` (f32 panels, or bf16 pairs on AVX512-BF16 with f32
/// sums). Two packings (W and Wᵀ) because the dot-product instructions pair along the summed dimension, which is I
/// in one product and O in the other; at bf16 the two together take the bytes of one f32 copy.
///
/// Built once for frozen weights and once per update of a trainable one (its owner keeps it in a `PackingCache`).
public final class TrainingPanels: @unchecked Sendable {
    /// W packed for y = x·Wᵀ.
    public let forward: PanelMatrix
    /// Wᵀ packed for dX = dY·W.
    public let backward: PanelMatrix
    public let precision: ComputePrecision

    /// O.
    public var rows: Int { forward.rows }
    /// I.
    public var columns: Int { forward.columns }
    /// Bytes held by both packings.
    public var byteCount: Int { forward.byteCount + backward.byteCount }

    /// Packs w (O, I).
    public init(_ w: Tensor, precision: ComputePrecision) throws {
        let (o, i) = try w.dims2("TrainingPanels")
        forward = try PanelMatrix(w, storage: precision.panelStorage)
        // Wᵀ's panels from W (O, I) = (Wᵀ)ᵀ.
        backward = precision == .bf16
            ? try w.withUnsafeBufferPointer { try PanelMatrix.bfloat16DotTransposed(rows: o, columns: i, from: $0.baseAddress!) }
            : try PanelMatrix(transposed: w)
        self.precision = precision
    }

    /// y (N, O) = x (N, I) · Wᵀ.
    public func multiplyTransposed(_ x: Tensor) throws -> Tensor { try forward.multiply(x) }

    /// dX (N, I) = dY (N, O) · W.
    public func multiply(_ dY: Tensor) throws -> Tensor { try backward.multiply(dY) }
}
