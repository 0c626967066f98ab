import FuRATensor

// Legend: N rows, I input features, O output features.

/// A plain linear layer y = x·Wᵀ + b with W (O, I) in `Float`.
///
/// Frozen by default (dX only); setting `weight.trainable` makes it the full fine-tuning layer.
public final class DenseLinear: LinearLayer {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?
    private var cachedInput: Tensor?
    public var computePrecision = ComputePrecision.f32
    /// W packed for bf16 products, re-packed when the weight changes (every step of full fine-tuning).
    private let packing = PackingCache<TrainingPanels>()

    /// The bf16 packing of the current weight.
    private func packedWeight() throws -> TrainingPanels {
        try packing.value(version: weight.version, precision: .bf16) { try TrainingPanels(weight.value, precision: .bf16) }
    }

    /// - Parameters: `weight` (O, I); `bias` (O,) or nil.
    public init(weight: Tensor, bias: Tensor? = nil) throws {
        let (o, i) = try weight.dims2("DenseLinear weight")
        if let b = bias, b.shape != [o] {
            throw TensorError.shapeMismatch(operation: "DenseLinear bias", lhs: [o], rhs: b.shape)
        }
        inFeatures = i
        outFeatures = o
        self.weight = Parameter(name: "weight", value: weight)
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
    }

    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let rows = try x.asRows(features: inFeatures, layer: "DenseLinear")
        var y = computePrecision == .bf16 ? try packedWeight().multiplyTransposed(rows)
                                          : try Tensor.matmul(rows, weight.value, transposeB: true)
        if let b = bias { try y.addRowVector(b.value) }
        cachedInput = keepForBackward && weight.trainable ? rows : nil
        return try y.reshaped(Array(x.shape.dropLast()) + [outFeatures])
    }

    public func backward(_ dY: Tensor) throws -> Tensor {
        let g = try dY.asRows(features: outFeatures, layer: "DenseLinear backward")
        if weight.trainable {
            guard let x = cachedInput else { throw LayerError.noForwardCache(layer: "DenseLinear") }
            try Tensor.matmul(g, x, transposeA: true, into: &weight.gradient!, accumulate: true)
        }
        if let b = bias, b.trainable { try b.accumulateGradient(try g.sumRows()) }
        let dX = computePrecision == .bf16 ? try packedWeight().multiply(g) : try Tensor.matmul(g, weight.value)
        return try dX.reshaped(Array(dY.shape.dropLast()) + [inFeatures])
    }

    public var parameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func denseWeight() throws -> Tensor { weight.value }
    public var denseBias: Tensor? { bias?.value }
    public func releaseForwardCache() { cachedInput = nil }
}
