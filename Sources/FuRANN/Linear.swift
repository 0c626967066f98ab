import FuRATensor

// Legend: N rows (tokens, all leading dimensions flattened), I input features, O output features.

/// The seam every projection of a model goes through: dense, BTT (FuRA), SVD, LoRA, DoRA, and their
/// quantized forms all conform, so converting a model is replacing slots by name.
///
/// A layer keeps what its backward needs from its most recent `forward(_:keepForBackward: true)`.
/// `backward` returns dX and *accumulates* into the gradients of its trainable parameters.
public protocol LinearLayer: AnyObject {
    /// I.
    var inFeatures: Int { get }
    /// O.
    var outFeatures: Int { get }

    /// y = f(x). x: (N, I) or any shape whose last dimension is I; y has the same leading shape and O.
    func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor

    /// dY (same shape as the last y) → dX (same shape as the last x). Accumulates parameter gradients.
    func backward(_ dY: Tensor) throws -> Tensor

    /// Every tensor of the layer, named relative to the layer (`weight`, `bias`, `btt_r`, `lora_A.weight`…).
    var parameters: [(name: String, parameter: Parameter)] { get }

    /// The dense weight (O, I) that gives the same output (for merge and export).
    func denseWeight() throws -> Tensor

    /// The bias (O,), if any.
    var denseBias: Tensor? { get }

    /// Frees what the last forward kept (after backward, or to save memory).
    func releaseForwardCache()

    /// The arithmetic of the layer's large products with frozen (or re-packed) weights: f32, or bf16 with f32 sums
    /// (`ComputePrecision`). Trainable small products, gradients and the optimizer stay f32 either way.
    var computePrecision: ComputePrecision { get set }
}

/// Errors of layers and models from bad input or bad configuration.
public enum LayerError: Error, CustomStringConvertible, Equatable {
    /// An input did not have the expected shape.
    case badInput(layer: String, expected: String, actual: [Int])
    /// `backward` was called without a kept forward.
    case noForwardCache(layer: String)
    /// An option or its value is invalid for this layer.
    case invalidOption(layer: String, option: String, value: String, reason: String)

    public var description: String {
        switch self {
        case let .badInput(layer, expected, actual): return "\(layer): expected input \(expected), got shape \(actual)"
        case let .noForwardCache(layer): return "\(layer): backward called without a forward that kept its inputs"
        case let .invalidOption(layer, option, value, reason): return "\(layer): invalid \(option) = \(value): \(reason)"
        }
    }
}

extension Tensor {
    /// Flattens all leading dimensions: (…, C) → (N, C), checking that C equals `features`.
    public func asRows(features: Int, layer: String) throws -> Tensor {
        guard let last = shape.last, last == features else {
            throw LayerError.badInput(layer: layer, expected: "(…, \(features))", actual: shape)
        }
        return try reshaped([count / Swift.max(1, features), features])
    }
}
