import FuRATensor

// Legend: N rows, C features normalized together.

/// RMSNorm: y = x / √(mean(x²) + ε) ⊙ γ, computed in `Float`, with the gain γ = w (Llama) or
/// γ = 1 + w (Gemma), as the model family says.
///
/// Used for the block norms (over C), the final norm, and per-head q/k norms (over D).
public final class RMSNorm {
    /// How the stored weight w becomes the gain γ.
    public enum Form: String, Sendable {
        /// γ = w.
        case weight
        /// γ = 1 + w (Gemma stores the offset from one).
        case onePlusWeight = "one_plus_weight"
    }

    /// The stored weight w (C,); trains or not.
    public let weight: Parameter
    public let epsilon: Float
    public let form: Form
    private var cachedInput: Tensor?
    private var cachedInverseRMS: [Float] = []

    /// - Parameter weight: (C,).
    public init(weight: Parameter, epsilon: Float, form: Form = .weight) throws {
        _ = try weight.value.dims1("RMSNorm weight")
        self.weight = weight
        self.epsilon = epsilon
        self.form = form
    }

    /// The gain γ (C,): w, or 1 + w.
    public var gain: Tensor {
        guard form == .onePlusWeight else { return weight.value }
        var g = weight.value
        for i in 0..<g.count { g.storage[i] += 1 }
        return g
    }

    /// C.
    public var features: Int { weight.value.count }
    /// Rows per block of the backward (a block's dW partial sum is one unit of the fixed summation order).
    static let backwardBlockRows = 64

    /// x (…, C) → y (…, C).
    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let c = features
        _ = try x.asRows(features: c, layer: "RMSNorm")
        let n = x.count / max(1, c)
        var y = x
        var inverse = [Float](repeating: 0, count: n)
        let gain = self.gain
        x.withUnsafeBufferPointer { px in
            gain.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { py in
                    inverse.withUnsafeMutableBufferPointer { r in
                        let (x, out, rs, w) = (px.baseAddress!, py.baseAddress!, r.baseAddress!, w.baseAddress!)
                        Threading.parallelFor(n, minimumPerChunk: 64) { first, last in
                            Kernels.rmsRows(x + first * c, rows: last - first, columns: c, eps: epsilon, out: rs + first)
                            for row in first..<last {
                                let s = 1 / rs[row]
                                rs[row] = s
                                let src = x + row * c, dst = out + row * c
                                for i in 0..<c { dst[i] = src[i] * s * w[i] }
                            }
                        }
                    }
                }
            }
        }
        if keepForBackward {
            cachedInput = x
            cachedInverseRMS = inverse
        }
        return y
    }

    /// dY (…, C) → dX (…, C); accumulates dW = Σ_rows dY ⊙ x·r when the weight trains (dγ/dw = 1
    /// in both forms).
    ///
    /// With r = 1/rms and g = γ ⊙ dY: dX = r·g − x · r³/C · Σ(g ⊙ x).
    public func backward(_ dY: Tensor) throws -> Tensor {
        guard let x = cachedInput else { throw LayerError.noForwardCache(layer: "RMSNorm") }
        try dY.requireSameShape(x, "RMSNorm backward")
        let c = features
        let n = x.count / max(1, c)
        var dX = dY
        let trains = weight.trainable && weight.gradient != nil
        // Rows in fixed blocks side by side; each block sums its own dW, and the blocks are added in order, so the
        // gradient does not depend on the thread count.
        let blockRows = Self.backwardBlockRows
        let blocks = (n + blockRows - 1) / blockRows
        var partial = [Float](repeating: 0, count: trains ? blocks * c : 0)
        let gain = self.gain
        x.withUnsafeBufferPointer { px in
            dY.withUnsafeBufferPointer { pg in
                gain.withUnsafeBufferPointer { w in
                    dX.withUnsafeMutableBufferPointer { pd in
                        cachedInverseRMS.withUnsafeBufferPointer { inverse in
                            partial.withUnsafeMutableBufferPointer { dWs in
                                let (xb, gb, db, wb, rb) = (px.baseAddress!, pg.baseAddress!, pd.baseAddress!, w.baseAddress!, inverse.baseAddress!)
                                let dWb = dWs.baseAddress
                                Threading.parallelFor(blocks) { first, last in
                                    for block in first..<last {
                                        for row in (block * blockRows)..<min(n, (block + 1) * blockRows) {
                                            let xr = xb + row * c, gr = gb + row * c, dr = db + row * c
                                            let r = rb[row]
                                            var dot: Float = 0
                                            for i in 0..<c { dot += wb[i] * gr[i] * xr[i] }
                                            let k = dot * r * r * r / Float(c)
                                            for i in 0..<c { dr[i] = r * wb[i] * gr[i] - k * xr[i] }
                                            if trains { let dW = dWb! + block * c; for i in 0..<c { dW[i] += gr[i] * xr[i] * r } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if trains {
            var dW = [Float](repeating: 0, count: c)
            for block in 0..<blocks { for i in 0..<c { dW[i] += partial[block * c + i] } }
            try weight.accumulateGradient(Tensor.vector(dW))
        }
        return dX
    }

    /// Frees the kept input.
    public func releaseForwardCache() {
        cachedInput = nil
        cachedInverseRMS = []
    }
}
