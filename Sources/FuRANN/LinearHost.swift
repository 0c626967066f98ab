import FuRATensor

/// The attention head shape of a model, used by `factorize_by_head` and `input_factorization = head`.
public struct HeadShape: Equatable, Sendable, Codable {
    public var numHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public init(numHeads: Int, numKeyValueHeads: Int, headDim: Int) {
        self.numHeads = numHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim
    }
}

/// Anything that holds projections in named slots (a causal LM, a test stack of layers).
///
/// Slot names are full checkpoint prefixes (`model.layers.3.self_attn.q_proj`); the last path
/// component is the leaf name (`q_proj`) that target-module options match.
public protocol LinearHost: AnyObject {
    /// Every slot name, in model order.
    var linearSlotNames: [String] { get }
    /// The layer in a slot.
    func linear(named name: String) -> (any LinearLayer)?
    /// Replaces the layer in a slot; throws if the slot does not exist or the shapes differ.
    func setLinear(_ layer: any LinearLayer, named name: String) throws
    /// The attention head shape, when the host is a transformer.
    var headShape: HeadShape? { get }
    /// Every parameter that is not inside a linear slot (embeddings, norms, LM head), with full names.
    var otherParameters: [(name: String, parameter: Parameter)] { get }
}

extension String {
    /// The last dotted component: `model.layers.0.mlp.down_proj` → `down_proj`.
    public var leafName: String { split(separator: ".").last.map(String.init) ?? self }
}
