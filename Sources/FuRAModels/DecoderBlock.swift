import FuRANN
import FuRATensor

// Legend: B sequences, T new positions, P cached past positions, C model dim, H query heads,
// G key/value heads, D head dim; rows are (B·T) tokens.

/// Keys and values of one layer for cached positions: k and v (B, P, G, D), after RoPE.
public struct KeyValue: Sendable {
    public var keys: Tensor
    public var values: Tensor
    /// P.
    public var length: Int
    public init(keys: Tensor, values: Tensor, length: Int) { self.keys = keys; self.values = values; self.length = length }
}

/// One decoder layer: x + attn(norm(x)), then + mlp(norm(·)), with its mirror-image backward. With
/// sandwich norms (Gemma) the attention and MLP outputs are normed again before each residual add:
/// x + outNorm(attn(norm(x))).
public final class DecoderBlock {
    public let index: Int
    public let inputNorm: RMSNorm
    /// The norm before the MLP (HF `post_attention_layernorm` in Llama, `pre_feedforward_layernorm` in Gemma).
    public let postAttentionNorm: RMSNorm
    /// Gemma's norm on the attention output (HF `post_attention_layernorm`); nil in Llama.
    public let attentionOutputNorm: RMSNorm?
    /// Gemma's norm on the MLP output (HF `post_feedforward_layernorm`); nil in Llama.
    public let mlpOutputNorm: RMSNorm?
    public var qProj: any LinearLayer
    public var kProj: any LinearLayer
    public var vProj: any LinearLayer
    public var oProj: any LinearLayer
    /// Qwen3's per-head RMSNorm on q and k (over D), before RoPE.
    public let qNorm: RMSNorm?
    public let kNorm: RMSNorm?
    public let mlp: SwiGLU
    public let rope: RotaryEmbedding
    public let attention: CausalAttention
    private var shape: (batch: Int, time: Int)?

    init(index: Int, inputNorm: RMSNorm, postAttentionNorm: RMSNorm, q: any LinearLayer, k: any LinearLayer,
         v: any LinearLayer, o: any LinearLayer, qNorm: RMSNorm?, kNorm: RMSNorm?, mlp: SwiGLU,
         rope: RotaryEmbedding, attention: CausalAttention, attentionOutputNorm: RMSNorm? = nil, mlpOutputNorm: RMSNorm? = nil) {
        self.index = index; self.inputNorm = inputNorm; self.postAttentionNorm = postAttentionNorm
        self.attentionOutputNorm = attentionOutputNorm; self.mlpOutputNorm = mlpOutputNorm
        qProj = q; kProj = k; vProj = v; oProj = o; self.qNorm = qNorm; self.kNorm = kNorm
        self.mlp = mlp; self.rope = rope; self.attention = attention
    }

    /// x (B·T, C) → y (B·T, C), and this layer's keys and values including the past (B, P+T, G, D).
    ///
    /// - Parameters: `keyLengths`: B real key counts over P+T; `past`: cached keys and values, whose
    ///   positions come first (new positions start at P).
    public func forward(_ x: Tensor, batch: Int, time: Int, keyLengths: [Int], past: KeyValue? = nil,
                        keepForBackward: Bool) throws -> (output: Tensor, present: KeyValue) {
        let (h, g, d) = (attention.heads, attention.keyValueHeads, attention.headDim)
        let pastLength = past?.length ?? 0
        if keepForBackward && pastLength > 0 {
            throw LayerError.invalidOption(layer: "layer \(index)", option: "past", value: "\(pastLength) positions",
                                           reason: "backward through cached keys is not supported; train without a cache")
        }
        let h1 = try inputNorm.forward(x, keepForBackward: keepForBackward)
        var q = try qProj.forward(h1, keepForBackward: keepForBackward)
        var k = try kProj.forward(h1, keepForBackward: keepForBackward)
        let v = try vProj.forward(h1, keepForBackward: keepForBackward)
        if let qn = qNorm { q = try qn.forward(q.reshaped([q.count / d, d]), keepForBackward: keepForBackward).reshaped(q.shape) }
        if let kn = kNorm { k = try kn.forward(k.reshaped([k.count / d, d]), keepForBackward: keepForBackward).reshaped(k.shape) }
        try rope.apply(&q, batch: batch, time: time, heads: h, start: pastLength)
        try rope.apply(&k, batch: batch, time: time, heads: g, start: pastLength)
        let present = try past.map { try Self.concatenate($0, k, v, batch: batch, time: time, width: g * d) }
            ?? KeyValue(keys: k, values: v, length: time)
        let a = try attention.forward(q: q, k: present.keys, v: present.values, batch: batch, keyLengths: keyLengths,
                                      queryOffset: pastLength, keepForBackward: keepForBackward)
        var x2 = try oProj.forward(a, keepForBackward: keepForBackward)
        if let n = attentionOutputNorm { x2 = try n.forward(x2, keepForBackward: keepForBackward) }
        try x2.add(x)
        let h2 = try postAttentionNorm.forward(x2, keepForBackward: keepForBackward)
        var y = try mlp.forward(h2, keepForBackward: keepForBackward)
        if let n = mlpOutputNorm { y = try n.forward(y, keepForBackward: keepForBackward) }
        try y.add(x2)
        shape = keepForBackward ? (batch, time) : nil
        return (y, present)
    }

    /// dY (B·T, C) → dX (B·T, C): the steps of `forward` in reverse.
    public func backward(_ dY: Tensor) throws -> Tensor {
        guard let (batch, time) = shape else { throw LayerError.noForwardCache(layer: "layer \(index)") }
        let (h, g, d) = (attention.heads, attention.keyValueHeads, attention.headDim)
        let dMLP = try mlpOutputNorm?.backward(dY) ?? dY
        var dX2 = try postAttentionNorm.backward(try mlp.backward(dMLP))
        try dX2.add(dY)
        let dA = try oProj.backward(try attentionOutputNorm?.backward(dX2) ?? dX2)
        var (dQ, dK, dV) = try attention.backward(dA)
        try rope.apply(&dQ, batch: batch, time: time, heads: h, inverse: true)
        try rope.apply(&dK, batch: batch, time: time, heads: g, inverse: true)
        if let kn = kNorm { dK = try kn.backward(dK.reshaped([dK.count / d, d])).reshaped(dK.shape) }
        if let qn = qNorm { dQ = try qn.backward(dQ.reshaped([dQ.count / d, d])).reshaped(dQ.shape) }
        var dH1 = try vProj.backward(dV)
        try dH1.add(try kProj.backward(dK))
        try dH1.add(try qProj.backward(dQ))
        var dX = try inputNorm.backward(dH1)
        try dX.add(dX2)
        return dX
    }

    /// Frees everything the last forward kept.
    public func releaseForwardCache() {
        shape = nil
        for l in [qProj, kProj, vProj, oProj] { l.releaseForwardCache() }
        for n in [inputNorm, postAttentionNorm, qNorm, kNorm, attentionOutputNorm, mlpOutputNorm].compactMap({ $0 }) { n.releaseForwardCache() }
        attention.releaseForwardCache()
        mlp.releaseForwardCache()
    }

    /// Past (B, P, W) and new (B, T, W) rows → (B, P+T, W), for keys and values.
    static func concatenate(_ past: KeyValue, _ k: Tensor, _ v: Tensor, batch: Int, time: Int, width: Int) throws -> KeyValue {
        let p = past.length
        guard past.keys.count == batch * p * width, past.values.count == past.keys.count else {
            throw LayerError.badInput(layer: "KeyValue cache", expected: "(\(batch), \(p), \(width))", actual: past.keys.shape)
        }
        func join(_ a: Tensor, _ b: Tensor) -> Tensor {
            var out = Tensor.zeros([batch * (p + time), width])
            for s in 0..<batch {
                out.storage.replaceSubrange((s * (p + time) * width)..<((s * (p + time) + p) * width),
                                            with: a.storage[(s * p * width)..<((s + 1) * p * width)])
                out.storage.replaceSubrange(((s * (p + time) + p) * width)..<((s + 1) * (p + time) * width),
                                            with: b.storage[(s * time * width)..<((s + 1) * time * width)])
            }
            return out
        }
        return KeyValue(keys: join(past.keys, k), values: join(past.values, v), length: p + time)
    }
}
