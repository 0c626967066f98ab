import FuRANN
import FuRATensor

// Legend: N rows, I input features, O output features, r = min(I, O).

/// The whole-matrix SVD reparameterization baseline (Docs/methods.md §4): `W = svd_a · diag(svd_s) · svd_b`.
///
/// Parameters: `svd_a` (O, r) (U side, "output"), `svd_b` (r, I) (Vᵀ side, "input"), `svd_s` (r,) when S is kept,
/// `bias` (O,). The reference materializes W on every forward; this layer computes the same product as
/// `y = ((x · svd_bᵀ) ⊙ s) · svd_aᵀ + bias`, which is exact and never forms W (`SVDReference` keeps the
/// materializing form for the tests).
public final class SVDLayer: LinearLayer {
    public let inFeatures: Int
    public let outFeatures: Int
    /// r = min(I, O).
    public let rank: Int
    /// `svd_a` (O, r).
    public let outputFactor: Parameter
    /// `svd_b` (r, I).
    public let inputFactor: Parameter
    /// `svd_s` (r,), or nil when S is merged.
    public let singular: Parameter?
    /// `bias` (O,), or nil.
    public let bias: Parameter?

    private var cachedInput: Tensor?
    private var cachedH: Tensor?
    public var computePrecision = ComputePrecision.f32
    /// At bf16: `svd_b` and `svd_a · diag(svd_s)` packed for their products, re-packed when they change.
    private let inputPacking = PackingCache<TrainingPanels>()
    private let outputPacking = PackingCache<TrainingPanels>()

    /// `svd_b` (r, I) packed at bf16.
    private func packedInputFactor() throws -> TrainingPanels {
        try inputPacking.value(version: inputFactor.version, precision: .bf16) { try TrainingPanels(inputFactor.value, precision: .bf16) }
    }

    /// `svd_a · diag(svd_s)` (O, r) packed at bf16 (its version mixes both factors').
    private func packedScaledA() throws -> TrainingPanels {
        let version = outputFactor.version &* 1_000_003 &+ (singular?.version ?? 0)
        return try outputPacking.value(version: version, precision: .bf16) { try TrainingPanels(scaledA(), precision: .bf16) }
    }

    /// A layer over existing factors: `a` (O, r), `b` (r, I), `s` (r,) or nil, `bias` (O,) or nil.
    public init(a: Tensor, b: Tensor, s: Tensor?, bias: Tensor?, module: String = "SVDLayer") throws {
        let (o, r) = try a.dims2("\(module) svd_a")
        let (r2, i) = try b.dims2("\(module) svd_b")
        guard r == r2 else { throw ConversionError.shapeMismatch(module: module, tensor: "svd_b", expected: [r, i], actual: b.shape) }
        if let s, s.shape != [r] { throw ConversionError.shapeMismatch(module: module, tensor: "svd_s", expected: [r], actual: s.shape) }
        if let bias, bias.shape != [o] { throw ConversionError.shapeMismatch(module: module, tensor: "bias", expected: [o], actual: bias.shape) }
        inFeatures = i; outFeatures = o; rank = r
        outputFactor = Parameter(name: "svd_a", value: a)
        inputFactor = Parameter(name: "svd_b", value: b)
        singular = s.map { Parameter(name: "svd_s", value: $0) }
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
    }

    /// Resolves `s_merged_to` for the SVD layer (Docs/methods.md §4): nil ⇒ split for both, else frozen;
    /// `trainable` ⇒ split for both, else the trained side; `frozen` ⇒ split for both, else the other side.
    public static func mergeTarget(_ option: SMergedTo?, trainPosition: SVDTrainPosition) -> MergeTarget {
        let both = trainPosition == .both
        switch option {
        case nil: return both ? .split : mergeTarget(.frozen, trainPosition: trainPosition)
        case .trainable?: return both ? .split : (trainPosition == .output ? .output : .input)
        case .frozen?: return both ? .split : (trainPosition == .output ? .input : .output)
        case .output?: return .output
        case .input?: return .input
        case .split?: return .split
        case .keepFrozen?: return .keepFrozen
        case .keepTrainable?: return .keepTrainable
        }
    }

    /// Converts a dense weight (O, I) by one thin SVD (Docs/methods.md §4) and sets trainability: `svd_a` for output/both,
    /// `svd_b` for input/both, `svd_s` iff `keep_trainable`, bias by `trainBias`.
    public convenience init(converting weight: Tensor, bias: Tensor?, trainPosition: SVDTrainPosition = .output,
                            sMergedTo: SMergedTo? = .frozen, trainBias: Bool = true,
                            precision: FactorizationPrecision = .double, module: String = "SVDLayer") throws {
        let (o, i) = try weight.dims2("\(module) weight")
        let bad = weight.storage.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        if bad > 0 { throw ConversionError.nonFiniteWeight(module: module, count: bad) }
        let f = try LAPACK.svd(weight, precision: precision)
        let r = min(o, i)
        let target = Self.mergeTarget(sMergedTo, trainPosition: trainPosition)
        var a = f.u, b = f.vt
        let s = f.s.storage.map { max(0, $0) }
        for k in 0..<r {
            let (ua, vb): (Float, Float)
            switch target {
            case .split: (ua, vb) = (s[k].squareRoot(), s[k].squareRoot())
            case .output: (ua, vb) = (s[k], 1)
            case .input: (ua, vb) = (1, s[k])
            case .keepFrozen, .keepTrainable, .none: (ua, vb) = (1, 1)
            }
            for p in 0..<o { a.storage[p * r + k] *= ua }
            for q in 0..<i { b.storage[k * i + q] *= vb }
        }
        try self.init(a: a, b: b, s: target.keepsSingularValues ? Tensor.vector(s) : nil, bias: bias, module: module)
        configureTrainability(trainPosition: trainPosition, trainBias: trainBias, trainSingularValues: target == .keepTrainable)
    }

    /// Docs/methods.md §4 `configure_svd_trainability` for this layer.
    public func configureTrainability(trainPosition: SVDTrainPosition, trainBias: Bool, trainSingularValues: Bool) {
        outputFactor.trainable = trainPosition != .input
        inputFactor.trainable = trainPosition != .output
        singular?.trainable = trainSingularValues
        bias?.trainable = trainBias
    }

    public var parameters: [(name: String, parameter: Parameter)] {
        var list: [(name: String, parameter: Parameter)] = [("svd_a", outputFactor), ("svd_b", inputFactor)]
        if let s = singular { list.append(("svd_s", s)) }
        if let b = bias { list.append(("bias", b)) }
        return list
    }

    public var denseBias: Tensor? { bias?.value }

    public func releaseForwardCache() { cachedInput = nil; cachedH = nil }

    /// `svd_a · diag(svd_s)` (O, r).
    private func scaledA() -> Tensor {
        guard let s = singular?.value else { return outputFactor.value }
        var out = outputFactor.value
        for p in 0..<outFeatures { for k in 0..<rank { out.storage[p * rank + k] *= s.storage[k] } }
        return out
    }

    /// W (O, I) = (svd_a · diag(svd_s)) · svd_b.
    public func denseWeight() throws -> Tensor { try Tensor.matmul(scaledA(), inputFactor.value) }

    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let rows = try x.asRows(features: inFeatures, layer: "SVDLayer")
        let bf16 = computePrecision == .bf16
        let h = bf16 ? try packedInputFactor().multiplyTransposed(rows)
                     : try Tensor.matmul(rows, inputFactor.value, transposeB: true)   // (N, r)
        var y = bf16 ? try packedScaledA().multiplyTransposed(h) : try Tensor.matmul(h, scaledA(), transposeB: true)   // (N, O)
        if let b = bias { try y.addRowVector(b.value) }
        if keepForBackward {
            cachedInput = rows
            cachedH = h
        } else {
            releaseForwardCache()
        }
        return try y.reshaped(Array(x.shape.dropLast()) + [outFeatures])
    }

    public func backward(_ dY: Tensor) throws -> Tensor {
        let g = try dY.asRows(features: outFeatures, layer: "SVDLayer backward")
        guard let x = cachedInput, let h = cachedH, x.shape[0] == g.shape[0] else {
            throw LayerError.noForwardCache(layer: "SVDLayer")
        }
        let aS = scaledA()
        // dZ (N, r) = G · (a·diag(s)) is dL/dH; the Z = H ⊙ s split gives dA = Gᵀ·(H ⊙ s) and dS = Σ (G·a) ⊙ H.
        if outputFactor.trainable {
            var z = h
            if let s = singular?.value {
                for row in 0..<h.shape[0] { for k in 0..<rank { z.storage[row * rank + k] *= s.storage[k] } }
            }
            try Tensor.matmul(g, z, transposeA: true, into: &outputFactor.gradient!, accumulate: true)
        }
        let bf16 = computePrecision == .bf16
        let dH = bf16 ? try packedScaledA().multiply(g) : try Tensor.matmul(g, aS)   // (N, r)
        if let s = singular, s.trainable {
            let ga = try Tensor.matmul(g, outputFactor.value)              // (N, r)
            var ds = Tensor.zeros([rank])
            for row in 0..<h.shape[0] {
                for k in 0..<rank { ds.storage[k] += ga.storage[row * rank + k] * h.storage[row * rank + k] }
            }
            try s.accumulateGradient(ds)
        }
        if inputFactor.trainable {
            try Tensor.matmul(dH, x, transposeA: true, into: &inputFactor.gradient!, accumulate: true)
        }
        if let b = bias, b.trainable { try b.accumulateGradient(try g.sumRows()) }
        let dX = bf16 ? try packedInputFactor().multiply(dH) : try Tensor.matmul(dH, inputFactor.value)
        return try dX.reshaped(Array(dY.shape.dropLast()) + [inFeatures])
    }
}

/// The simple twin of `SVDLayer`: the reference's form, materializing W and applying it densely.
public enum SVDReference {
    /// y (N, O) = x · ((a·diag(s))·b)ᵀ + bias. `x` (N, I), `a` (O, r), `b` (r, I), `s` (r,) or nil.
    public static func forward(_ x: Tensor, a: Tensor, b: Tensor, s: Tensor?, bias: Tensor?) throws -> Tensor {
        var aS = a
        let (o, r) = try a.dims2()
        if let s { for p in 0..<o { for k in 0..<r { aS.storage[p * r + k] *= s.storage[k] } } }
        let w = try Tensor.matmul(aS, b)
        var y = try Tensor.matmul(x, w, transposeB: true)
        if let bias { try y.addRowVector(bias) }
        return y
    }
}
