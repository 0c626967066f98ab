import FuRANN
import FuRATensor

// Legend: N rows, I input features, O output features.

/// How generation reads frozen dense weights: as they are (f32), or from a bf16 copy that halves
/// the bytes a batch-1 decode step must stream from memory.
public enum GenerationWeightPrecision: String, Sendable, CaseIterable, Codable {
    case float32 = "f32"
    case bfloat16 = "bf16"
}

/// One projection of the generation forward: the model's `LinearLayer` itself, or a compact copy
/// of a frozen dense weight.
struct GenerationProjection {
    let layer: (any LinearLayer)?
    let dense: Tensor?
    let compact: BFloat16Matrix?
    let bias: Tensor?

    /// Uses a bf16 copy only for a frozen `DenseLinear` when `precision` asks for it.
    init(_ layer: any LinearLayer, precision: GenerationWeightPrecision) throws {
        if precision == .bfloat16, let d = layer as? DenseLinear, !d.weight.trainable, !(d.bias?.trainable ?? false) {
            self.layer = nil; dense = nil
            compact = try BFloat16Matrix(d.weight.value)
            bias = d.bias?.value
        } else {
            self.layer = layer; dense = nil; compact = nil; bias = nil
        }
    }

    /// A bare weight (O, I) without bias (the LM head).
    init(weight: Tensor, trainable: Bool, precision: GenerationWeightPrecision) throws {
        layer = nil; bias = nil
        if precision == .bfloat16 && !trainable {
            dense = nil; compact = try BFloat16Matrix(weight)
        } else {
            dense = weight; compact = nil
        }
    }

    /// x (N, I) → y (N, O).
    func apply(_ x: Tensor) throws -> Tensor {
        if let layer { return try layer.forward(x, keepForBackward: false) }
        var y: Tensor
        if let compact { y = try compact.multiply(x) } else if let dense { y = try Tensor.matmul(x, dense, transposeB: true) } else {
            throw GenerationError.badInput(reason: "projection without weights")
        }
        if let bias {
            let o = bias.count
            y.withUnsafeMutableBufferPointer { py in bias.withUnsafeBufferPointer { pb in
                for r in 0..<(py.count / max(1, o)) { for j in 0..<o { py[r * o + j] += pb[j] } }
            } }
        }
        return y
    }
}
