import FuRATensor

/// A named model tensor with its gradient and whether it trains.
///
/// A reference type: layers, optimizers and checkpoints share the same object, so an optimizer
/// update is seen by the layer at once. The name is the checkpoint key (for example
/// `model.layers.0.self_attn.q_proj.btt_r`).
public final class Parameter {
    /// The checkpoint key.
    public var name: String
    /// The current value.
    public var value: Tensor { didSet { version &+= 1 } }
    /// Counts the changes of `value` (assignments and in-place mutations), so a copy made from it (a packed
    /// inference weight) can tell whether it is stale.
    public private(set) var version = 0
    /// The accumulated gradient, same shape as `value`; allocated when the parameter trains.
    public var gradient: Tensor?
    /// Whether the optimizer updates this tensor and backward accumulates into `gradient`.
    public var trainable: Bool {
        didSet { gradient = trainable ? (gradient ?? Tensor.zeros(value.shape)) : nil }
    }

    public init(name: String, value: Tensor, trainable: Bool = false) {
        self.name = name
        self.value = value
        self.trainable = trainable
        self.gradient = trainable ? Tensor.zeros(value.shape) : nil
    }

    /// Number of elements.
    public var count: Int { value.count }

    /// Sets the gradient to zero (keeps the allocation).
    public func zeroGradient() {
        guard gradient != nil else { return }
        gradient!.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// Adds `delta` into the gradient when the parameter trains; a no-op when it is frozen.
    public func accumulateGradient(_ delta: Tensor) throws {
        guard trainable else { return }
        try gradient!.add(delta)
    }
}
