import FuRATensor

// Legend: N rows, I input features, O output features.

/// A frozen dense projection whose weight stays in the model file until it is needed: the slot a streaming load
/// leaves, so that a method can read, convert and drop one weight at a time (QFuRA's and QLoRA's NF4 bases of a model
/// whose f32 weights would not fit in memory at once).
///
/// `denseWeight()` reads the weight from the file every time and keeps nothing; the first `forward` reads it into a
/// resident `DenseLinear` and keeps that (a slot no method replaced). `settle(_:)` does the same for every deferred
/// slot of a host, so that parameter lists and counts see them.
public final class DeferredLinear: LinearLayer {
    public let inFeatures: Int
    public let outFeatures: Int
    /// The checkpoint name of the weight (errors name it).
    public let name: String
    /// The bias (O,), small, read with the model.
    public let bias: Tensor?
    private let readWeight: () throws -> Tensor
    private var resident: DenseLinear?
    public var computePrecision = ComputePrecision.f32 { didSet { resident?.computePrecision = computePrecision } }

    /// - Parameters: `bias` (O,) or nil; `readWeight` returns the weight (O, I), its shape checked here on every read.
    public init(name: String, outFeatures: Int, inFeatures: Int, bias: Tensor?, readWeight: @escaping () throws -> Tensor) throws {
        if let bias, bias.shape != [outFeatures] {
            throw LayerError.badInput(layer: name, expected: "bias (\(outFeatures))", actual: bias.shape)
        }
        self.name = name
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.bias = bias
        self.readWeight = readWeight
    }

    /// The weight as read now, its shape checked.
    private func readChecked() throws -> Tensor {
        let w = try readWeight()
        guard w.shape == [outFeatures, inFeatures] else {
            throw LayerError.badInput(layer: name, expected: "weight (\(outFeatures), \(inFeatures))", actual: w.shape)
        }
        return w
    }

    /// The resident dense layer, read on first use.
    public func loaded() throws -> DenseLinear {
        if let resident { return resident }
        let dense = try DenseLinear(weight: readChecked(), bias: bias)
        dense.computePrecision = computePrecision
        resident = dense
        return dense
    }

    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor { try loaded().forward(x, keepForBackward: keepForBackward) }
    public func backward(_ dY: Tensor) throws -> Tensor { try loaded().backward(dY) }
    /// Nothing until the weight is resident (nothing trains in a deferred slot).
    public var parameters: [(name: String, parameter: Parameter)] { resident?.parameters ?? [] }
    public func denseWeight() throws -> Tensor { try resident?.denseWeight() ?? readChecked() }
    public var denseBias: Tensor? { bias }
    public func releaseForwardCache() { resident?.releaseForwardCache() }

    /// Replaces every deferred slot of `host` by its resident dense layer (frozen, named as the slot's weight and bias).
    /// Returns the slots it loaded.
    @discardableResult
    public static func settle(_ host: LinearHost) throws -> [String] {
        var settled: [String] = []
        for slot in host.linearSlotNames {
            guard let deferred = host.linear(named: slot) as? DeferredLinear else { continue }
            try host.setLinear(deferred.loaded(), named: slot)
            settled.append(slot)
        }
        return settled
    }
}
