/// What the family and the config say about each layer.
extension ModelConfig {
    /// The architecture's family (`validate` rejects a `model_type` that has none).
    public var family: ModelFamily { ModelFamily.named(modelType) ?? .llama }

    /// Whether layer `i` attends over a sliding window of `slidingWindow` keys (only in families that use the
    /// window: every layer, or a pattern of local and global layers).
    public func usesSlidingWindow(layer i: Int) -> Bool {
        guard slidingWindow != nil else { return false }
        if family.slidingWindowOnEveryLayer { return true }
        guard let pattern = family.defaultSlidingWindowPattern else { return false }
        if let types = layerTypes, i < types.count { return types[i] == "sliding_attention" }
        return (i + 1) % max(1, pattern) != 0
    }

    /// The RoPE base of layer `i`: the local base on sliding-window layers, `rope_theta` on the others.
    public func ropeTheta(layer i: Int) -> Double {
        usesSlidingWindow(layer: i) ? (localRopeTheta ?? family.defaultLocalRopeTheta ?? ropeTheta) : ropeTheta
    }

    /// The factor on attention scores: query_pre_attn_scalar^−½, or 1/√head_dim.
    public var attentionScale: Float { Float(1 / (queryPreAttnScalar ?? Double(headDim)).squareRoot()) }
}
