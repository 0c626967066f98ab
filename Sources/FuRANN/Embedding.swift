import FuRATensor

// Legend: N tokens, V vocabulary size, C model dim.

/// A token embedding table: row `id` of the weight (V, C), times `scale`, is the vector of token `id`.
public final class Embedding {
    /// The table (V, C), checkpoint key `…embed_tokens.weight`.
    public let weight: Parameter
    /// The factor on every looked-up row (1; Gemma's √C).
    public let scale: Float

    /// - Parameter weight: (V, C).
    public init(weight: Parameter, scale: Float = 1) throws {
        _ = try weight.value.dims2("Embedding weight")
        self.weight = weight
        self.scale = scale
    }

    /// V.
    public var vocabularySize: Int { weight.value.shape[0] }
    /// C.
    public var dimension: Int { weight.value.shape[1] }

    /// Looks up N ids → (N, C); throws on an id outside 0..<V.
    public func forward(_ ids: [Int]) throws -> Tensor {
        let (v, c) = (vocabularySize, dimension)
        for id in ids where id < 0 || id >= v {
            throw LayerError.badInput(layer: "Embedding", expected: "token ids in 0..<\(v)", actual: [id])
        }
        var out = Tensor.zeros([ids.count, c])
        weight.value.withUnsafeBufferPointer { w in
            out.withUnsafeMutableBufferPointer { o in
                for (n, id) in ids.enumerated() {
                    (o.baseAddress! + n * c).update(from: w.baseAddress! + id * c, count: c)
                    if scale != 1 { Kernels.scale(o.baseAddress! + n * c, scale, c) }
                }
            }
        }
        return out
    }

    /// Scatters dY (N, C) into the rows of the table's gradient named by `ids` (when it trains).
    /// There is no dX: ids are not differentiable.
    public func backward(_ dY: Tensor, ids: [Int]) throws {
        guard weight.trainable, weight.gradient != nil else { return }
        let c = dimension
        guard dY.shape == [ids.count, c] else {
            throw LayerError.badInput(layer: "Embedding backward", expected: "(\(ids.count), \(c))", actual: dY.shape)
        }
        dY.withUnsafeBufferPointer { g in
            weight.gradient!.withUnsafeMutableBufferPointer { dw in
                for (n, id) in ids.enumerated() {
                    Kernels.axpy(scale, g.baseAddress! + n * c, dw.baseAddress! + id * c, c)
                }
            }
        }
    }
}
