import FuRATensor

// Legend: N rows (tokens, leading dimensions flattened), I input features, O output features.

/// A linear layer y = x·Wᵀ + b over a frozen weight stored as f32, bf16 or NF4 (the QLoRA base).
///
/// The weight never trains; the bias is frozen unless `bias.trainable` is set. Backward returns dX and
/// accumulates the bias gradient when it trains.
public final class FrozenLinear: LinearLayer {
    public var inFeatures: Int { weight.columns }
    public var outFeatures: Int { weight.rows }
    /// W (O, I).
    public let weight: FrozenWeight
    /// b (O,), or nil.
    public let bias: Parameter?
    public var computePrecision = ComputePrecision.f32

    /// - Parameters: `weight` (O, I); `bias` (O,) or nil.
    public init(weight: FrozenWeight, bias: Tensor? = nil) throws {
        if let b = bias, b.shape != [weight.rows] {
            throw TensorError.shapeMismatch(operation: "FrozenLinear bias", lhs: [weight.rows], rhs: b.shape)
        }
        self.weight = weight
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
    }

    /// Stores a dense weight (O, I) in `format`.
    public convenience init(weight: Tensor, bias: Tensor? = nil, format: FrozenWeightFormat) throws {
        try self.init(weight: FrozenWeight(weight, format: format), bias: bias)
    }

    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let rows = try x.asRows(features: inFeatures, layer: "FrozenLinear")
        var y = Tensor.zeros([0, 0])
        try weight.multiplyTransposed(rows, into: &y, precision: computePrecision)
        if let b = bias { try y.addRowVector(b.value) }
        return try y.reshaped(Array(x.shape.dropLast()) + [outFeatures])
    }

    public func backward(_ dY: Tensor) throws -> Tensor {
        let g = try dY.asRows(features: outFeatures, layer: "FrozenLinear backward")
        if let b = bias, b.trainable { try b.accumulateGradient(try g.sumRows()) }
        var dX = Tensor.zeros([0, 0])
        try weight.multiply(g, into: &dX, precision: computePrecision)
        return try dX.reshaped(Array(dY.shape.dropLast()) + [inFeatures])
    }

    public var parameters: [(name: String, parameter: Parameter)] { bias.map { [("bias", $0)] } ?? [] }
    public func denseWeight() throws -> Tensor { weight.dense() }
    public var denseBias: Tensor? { bias?.value }
    public func releaseForwardCache() {}
}
