import FuRANN
import FuRATensor

extension LoRALinear {
    /// PiSSA's start on `layer` (PEFT `pissa_init`): with W = U·diag(S)·Vᵀ and the r largest singular values,
    /// A = diag(√(S_r/s))·V_rᵀ (r, I), B = U_r·diag(√(S_r/s)) (O, r), and the frozen base is the residual
    /// W − s·B·A, so the output equals the layer's. The start is kept (`initialFactors`) for saving as plain LoRA.
    public convenience init(principalOf layer: any LinearLayer, options: LoRAOptions, seed: UInt64) throws {
        try options.validate(layer: "PiSSA")
        let w = try layer.denseWeight()
        let (o, i) = try w.dims2("PiSSA")
        guard options.rank <= min(o, i) else {
            throw LayerError.invalidOption(layer: "PiSSA", option: "r", value: "\(options.rank)",
                                           reason: "PiSSA needs r ≤ min(out, in) = \(min(o, i)) singular vectors")
        }
        let svd = try LAPACK.svd(w)
        let r = options.rank, s = options.scaling
        var a = Tensor.zeros([r, i]), b = Tensor.zeros([o, r])
        for k in 0..<r {
            let root = (svd.s.storage[k] / s).squareRoot()
            for column in 0..<i { a.storage[k * i + column] = root * svd.vt.storage[k * i + column] }
            for row in 0..<o { b.storage[row * r + k] = svd.u.storage[row * svd.s.count + k] * root }
        }
        var residual = w
        let update = try Tensor.matmul(b, a)
        for index in residual.storage.indices { residual.storage[index] -= s * update.storage[index] }
        try self.init(base: FrozenWeight(residual, format: .float32), bias: layer.denseBias, loraA: a, loraB: b,
                      options: options, dropoutSeed: seed &+ 1)
        initialFactors = (a, b)
    }

    /// The adapter as a plain LoRA over the original base, as PEFT converts a PiSSA adapter for sharing:
    /// A' = [A; A₀] (2r, I), B' = [B, −B₀] (O, 2r), with α doubled (α·√2 under rsLoRA) so s stays the same.
    /// Without a PiSSA start, the layer's own factors and options.
    public func plainLoRAFactors() throws -> (a: Tensor, b: Tensor, options: LoRAOptions) {
        guard let (a0, b0) = initialFactors else { return (loraA.value, loraB.value, options) }
        let (r, i) = try loraA.value.dims2("PiSSA A")
        let o = outFeatures
        var a = Tensor.zeros([2 * r, i])
        a.storage.replaceSubrange(0..<(r * i), with: loraA.value.storage)
        a.storage.replaceSubrange((r * i)..<(2 * r * i), with: a0.storage)
        var b = Tensor.zeros([o, 2 * r])
        for row in 0..<o {
            for k in 0..<r {
                b.storage[row * 2 * r + k] = loraB.value.storage[row * r + k]
                b.storage[row * 2 * r + r + k] = -b0.storage[row * r + k]
            }
        }
        var doubled = options
        doubled.rank = 2 * r
        doubled.alpha = options.useRSLoRA ? options.alpha * Float(2).squareRoot() : 2 * options.alpha
        return (a, b, doubled)
    }
}
