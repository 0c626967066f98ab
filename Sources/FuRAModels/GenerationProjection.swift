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
            self.layer = layer; dense = nil
            compact = try BFloat16Matrix(d.weight.value)
            bias = d.bias?.value
        } else {
            self.layer = layer; dense = nil; compact = nil; bias = nil
        }
    }

    /// A bare weight (O, I) and optional bias (O,) (the LM head, fused groups).
    /// `keepDense: false` drops the f32 weight (a fused copy whose members serve many rows).
    init(weight: Tensor, bias: Tensor? = nil, trainable: Bool = false, precision: GenerationWeightPrecision, keepDense: Bool = true) throws {
        layer = nil; self.bias = bias
        dense = keepDense ? weight : nil
        compact = precision == .bfloat16 && !trainable ? try BFloat16Matrix(weight) : nil
    }

    /// Whether `apply` on `rows` rows reads the bf16 copy (few rows: memory-bound) rather than the
    /// f32 weights (many rows: compute-bound sgemm, where widening bf16 tiles would only cost).
    func usesCompact(rows: Int) -> Bool { compact != nil && rows <= BFloat16Matrix.streamingRowLimit }

    /// x (N, I) → y (N, O).
    func apply(_ x: Tensor) throws -> Tensor {
        let rows = x.count / max(1, x.shape.last ?? 1)
        var y: Tensor
        if let compact, usesCompact(rows: rows) {
            y = try compact.multiply(x)
        } else if let layer {
            return try layer.forward(x, keepForBackward: false)
        } else if let dense {
            y = try Tensor.matmul(x, dense, transposeB: true)
        } else {
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

/// Projections that read the same input (q, k, v; gate, up): one fused bf16 matrix when every
/// member is a frozen dense layer and bf16 is asked for (one pass over x, one parallel dispatch),
/// else the members one by one.
struct GenerationProjectionGroup {
    let members: [GenerationProjection]
    let fused: GenerationProjection?
    let widths: [Int]

    init(_ layers: [any LinearLayer], precision: GenerationWeightPrecision) throws {
        widths = layers.map(\.outFeatures)
        let dense = layers.compactMap { $0 as? DenseLinear }
        if precision == .bfloat16, dense.count == layers.count, layers.count > 1,
           dense.allSatisfy({ !$0.weight.trainable && !($0.bias?.trainable ?? false) }),
           Set(dense.map(\.inFeatures)).count == 1 {
            let weight = try Tensor(shape: [widths.reduce(0, +), dense[0].inFeatures], data: dense.flatMap { $0.weight.value.storage })
            let hasBias = dense.contains { $0.bias != nil }
            let bias = hasBias ? try Tensor(shape: [weight.shape[0]], data: dense.flatMap { $0.bias?.value.storage ?? [Float](repeating: 0, count: $0.outFeatures) }) : nil
            fused = try GenerationProjection(weight: weight, bias: bias, precision: precision, keepDense: false)
        } else {
            fused = nil
        }
        // Many rows go through the layers themselves (f32 sgemm), so the fused copy holds bf16 only.
        let memberPrecision = fused == nil ? precision : .float32
        members = try layers.map { try GenerationProjection($0, precision: memberPrecision) }
    }

    /// x (N, I) → one (N, O_i) per member.
    func apply(_ x: Tensor) throws -> [Tensor] {
        let rows = x.count / max(1, x.shape.last ?? 1)
        guard let fused, fused.usesCompact(rows: rows) else { return try members.map { try $0.apply(x) } }
        let y = try fused.apply(x)
        let total = widths.reduce(0, +), n = y.count / max(1, total)
        var offset = 0
        return widths.map { w in
            var part = Tensor.zeros([n, w])
            for r in 0..<n { part.storage.replaceSubrange((r * w)..<((r + 1) * w), with: y.storage[(r * total + offset)..<(r * total + offset + w)]) }
            offset += w
            return part
        }
    }
}
