// Legend: N rows of x, O output features (rows of W), I input features (columns of W).

extension NF4Tensor {
    /// W (O, I) as a row-tiled matrix that dequantizes each tile right before its sgemm.
    ///
    /// - Throws: `TensorError.rankMismatch` unless the tensor is 2-D.
    public func rowTiled(tileElements: Int = 1 << 19) throws -> RowTiledMatrix {
        guard shape.count == 2 else { throw TensorError.rankMismatch(operation: "NF4 matrix product", expected: 2, actual: shape) }
        let columns = shape[1]
        let me = self
        return RowTiledMatrix(rows: shape[0], columns: columns, tileElements: tileElements) { r0, r1, tile in
            me.dequantize(elements: (r0 * columns)..<(r1 * columns), into: tile)
        }
    }

    /// y = x · Ŵᵀ with Ŵ the dequantized (O, I) matrix. x: (N, I) → (N, O).
    public func multiplyTransposed(_ x: Tensor) throws -> Tensor {
        var y = Tensor.zeros([0, 0])
        try rowTiled().multiplyTransposed(x, into: &y)
        return y
    }

    /// dX = dY · Ŵ. dY: (N, O) → (N, I).
    public func multiply(_ dY: Tensor) throws -> Tensor {
        var dX = Tensor.zeros([0, 0])
        try rowTiled().multiply(dY, into: &dX)
        return dX
    }
}
