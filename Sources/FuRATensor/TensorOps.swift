/// Checked elementwise and row-wise operations on whole tensors, built on `Kernels`.
extension Tensor {
    /// `self += other` elementwise; shapes must match.
    public mutating func add(_ other: Tensor) throws {
        try requireSameShape(other, "add")
        addUnchecked(other, scale: 1)
    }

    /// `self += alpha · other` elementwise; shapes must match.
    public mutating func add(_ other: Tensor, scaledBy alpha: Float) throws {
        try requireSameShape(other, "add(scaledBy:)")
        addUnchecked(other, scale: alpha)
    }

    private mutating func addUnchecked(_ other: Tensor, scale alpha: Float) {
        let n = count
        other.withUnsafeBufferPointer { x in
            withUnsafeMutableBufferPointer { y in Kernels.axpy(alpha, x.baseAddress!, y.baseAddress!, n) }
        }
    }

    /// `self + other` elementwise.
    public static func + (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        var out = lhs
        try out.add(rhs)
        return out
    }

    /// `self *= alpha`.
    public mutating func scale(by alpha: Float) {
        let n = count
        withUnsafeMutableBufferPointer { Kernels.scale($0.baseAddress!, alpha, n) }
    }

    /// Elementwise product `self ⊙ other`; shapes must match.
    public func multiplied(by other: Tensor) throws -> Tensor {
        try requireSameShape(other, "multiply")
        var out = self
        for i in 0..<count { out.storage[i] *= other.storage[i] }
        return out
    }

    /// Adds a vector to every row: `self[r, :] += bias` where the last dimension equals `bias.count`.
    public mutating func addRowVector(_ bias: Tensor) throws {
        let (rows, columns) = try rowsAndColumns("addRowVector")
        guard bias.shape == [columns] else {
            throw TensorError.shapeMismatch(operation: "addRowVector", lhs: shape, rhs: bias.shape)
        }
        bias.withUnsafeBufferPointer { b in
            withUnsafeMutableBufferPointer { y in
                for r in 0..<rows { Kernels.axpy(1, b.baseAddress!, y.baseAddress! + r * columns, columns) }
            }
        }
    }

    /// Column sums over all leading dimensions: returns (last dim,).
    public func sumRows() throws -> Tensor {
        let (rows, columns) = try rowsAndColumns("sumRows")
        var out = Tensor.zeros([columns])
        withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows { Kernels.axpy(1, x.baseAddress! + r * columns, o.baseAddress!, columns) }
            }
        }
        return out
    }

    /// Softmax over the last dimension.
    public func softmaxLastDimension() throws -> Tensor {
        let (rows, columns) = try rowsAndColumns("softmax")
        var out = self
        out.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: rows, columns: columns) }
        return out
    }

    /// SiLU elementwise.
    public func silu() -> Tensor {
        var out = self
        let n = count
        out.withUnsafeMutableBufferPointer { Kernels.silu($0.baseAddress!, $0.baseAddress!, n) }
        return out
    }

    /// Index of the largest element of each row of the last dimension.
    public func argmaxLastDimension() throws -> [Int] {
        let (rows, columns) = try rowsAndColumns("argmax")
        guard columns > 0 else { throw TensorError.invalidArgument(operation: "argmax", message: "empty rows in \(shape)") }
        return withUnsafeBufferPointer { x in (0..<rows).map { Kernels.argmax(x.baseAddress! + $0 * columns, columns) } }
    }

    /// The Frobenius norm ‖self‖.
    public var norm: Float {
        withUnsafeBufferPointer { Kernels.sumOfSquares($0.baseAddress!, count).squareRoot() }
    }

    /// The largest absolute element.
    public var maxAbs: Float { storage.reduce(0) { Swift.max($0, abs($1)) } }

    /// ‖self − other‖ / ‖other‖ (or the plain norm of the difference when `other` is zero).
    public func relativeError(to other: Tensor) throws -> Float {
        try requireSameShape(other, "relativeError")
        var diff = 0.0, ref = 0.0
        for i in 0..<count {
            let d = Double(storage[i]) - Double(other.storage[i])
            diff += d * d
            ref += Double(other.storage[i]) * Double(other.storage[i])
        }
        return Float(ref > 0 ? (diff / ref).squareRoot() : diff.squareRoot())
    }
}
