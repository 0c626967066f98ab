/// The seven projections of a decoder layer: the one home of their names, dense shapes and biases. The checkpoint's
/// tensor list, the shape a tensor name must have, the model's slots and the parameter plan all read it.
extension ModelConfig {
    /// One projection of every decoder layer.
    public struct Projection: Equatable, Sendable {
        /// Its path under `model.layers.N.` (`self_attn.q_proj`).
        public var path: String
        /// Output features (rows of the dense weight).
        public var rows: Int
        /// Input features (columns of the dense weight).
        public var columns: Int
        /// Whether the config gives it a bias.
        public var hasBias: Bool

        /// The last name component (`q_proj`), what PEFT's `target_modules` name.
        public var leaf: String { path.split(separator: ".").last.map(String.init) ?? path }
    }

    /// The projection paths in the checkpoint's order: attention q, k, v, o, then the MLP's gate, up, down.
    public static let projectionPaths = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]

    /// The projections of each decoder layer under this config, in `projectionPaths` order.
    public var layerProjections: [Projection] {
        let h = hiddenSize, q = numAttentionHeads * headDim, kv = numKeyValueHeads * headDim, f = intermediateSize
        let shapes: [(rows: Int, columns: Int, bias: Bool)] = [
            (q, h, attentionBias), (kv, h, attentionBias), (kv, h, attentionBias), (h, q, false),
            (f, h, mlpBias), (f, h, mlpBias), (h, f, mlpBias),
        ]
        return zip(Self.projectionPaths, shapes).map { Projection(path: $0, rows: $1.rows, columns: $1.columns, hasBias: $1.bias) }
    }
}
