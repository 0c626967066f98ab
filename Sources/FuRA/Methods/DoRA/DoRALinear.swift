import FuRANN
import FuRATensor

// Legend: N rows (tokens, leading dimensions flattened), I input features, O output features, r LoRA rank.

/// DoRA with PEFT semantics over a frozen base of any storage (NF4 ⇒ QDoRA).
///
/// With n = ‖W + s·B·A‖ per output row (over the input dimension) treated as a constant in backward
/// (PEFT detaches it), and ν = m / n:
/// `y = x·Wᵀ + b + (ν − 1)⊙(x̃·Wᵀ) + ν⊙(s·x̃·Aᵀ·Bᵀ)` where x̃ = dropout(x) in training forwards
/// (x̃ = x otherwise, and then y = ν⊙(x·(W+sBA)ᵀ) + b). The magnitude m (O,) starts at ‖W[o, :]‖₂.
/// `DoRAOptions.formula = .qdoraFast` gives the QDoRA baseline's `y = ν⊙(x·Wᵀ + b + s·x̃·Aᵀ·Bᵀ)`.
/// n is recomputed on every k-th training forward (k = `normCacheSteps`; k = 1 ≡ PEFT, which also
/// recomputes on every evaluation forward).
public final class DoRALinear: LinearLayer {
    public var inFeatures: Int { base.columns }
    public var outFeatures: Int { base.rows }
    /// W (O, I), frozen.
    public let base: FrozenWeight
    /// b (O,), frozen unless set trainable.
    public let bias: Parameter?
    public var computePrecision = ComputePrecision.f32
    /// `lora_A.weight` (r, I).
    public let loraA: Parameter
    /// `lora_B.weight` (O, r).
    public let loraB: Parameter
    /// `lora_magnitude_vector` (O,).
    public let magnitude: Parameter
    public let options: DoRAOptions
    /// The generator of the dropout masks.
    public var dropoutRNG: RNG
    /// n (O,): the cached row norms of W + s·B·A.
    public private(set) var normCache: Tensor
    /// Training forwards so far (drives the cache refresh; part of a checkpoint's state).
    public var stepCounter = 0

    /// Restores the norm cache n (O,) from a checkpoint.
    public func restoreNormCache(_ norms: Tensor) throws {
        try LoRAPieces.requireShape(norms, [outFeatures], key: "norm_cache", layer: "DoRA")
        normCache = norms
    }

    private struct Cache {
        var input: Tensor  // x̃ (N, I)
        var mask: [Float]?  // dropout mask (N·I) or nil
        var projected: Tensor  // x̃·Aᵀ (N, r)
        var unscaled: Tensor  // what ν multiplies (N, O): x̃·Wᵀ + s·x̃·AᵀBᵀ (peft) or x·Wᵀ + b + s·x̃·AᵀBᵀ (fast)
        var ratio: Tensor  // ν (O,)
    }
    private var cache: Cache?

    /// A fresh adapter: A Kaiming-uniform from `seed`, B zero, m = ‖W[o, :]‖, so the output equals the base's.
    public convenience init(base: FrozenWeight, bias: Tensor? = nil, options: DoRAOptions, seed: UInt64) throws {
        try options.validate(layer: "DoRA")
        try LoRAPieces.checkRank(options.lora.rank, rows: base.rows, columns: base.columns, layer: "DoRA")
        var rng = RNG(seed: seed)
        let a = LoRAPieces.initialA(rank: options.lora.rank, inFeatures: base.columns, rng: &rng)
        try self.init(base: base, bias: bias, loraA: a, loraB: Tensor.zeros([base.rows, options.lora.rank]),
                      magnitude: base.rowNorms(), options: options, dropoutSeed: seed &+ 1)
    }

    /// An adapter with given tensors (for loading): A (r, I), B (O, r), m (O,).
    public init(base: FrozenWeight, bias: Tensor?, loraA: Tensor, loraB: Tensor, magnitude: Tensor,
                options: DoRAOptions, dropoutSeed: UInt64) throws {
        try options.validate(layer: "DoRA")
        try LoRAPieces.requireShape(loraA, [options.lora.rank, base.columns], key: "lora_A.weight", layer: "DoRA")
        try LoRAPieces.requireShape(loraB, [base.rows, options.lora.rank], key: "lora_B.weight", layer: "DoRA")
        try LoRAPieces.requireShape(magnitude, [base.rows], key: "lora_magnitude_vector", layer: "DoRA")
        if let b = bias { try LoRAPieces.requireShape(b, [base.rows], key: "bias", layer: "DoRA") }
        self.base = base
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
        self.loraA = Parameter(name: "lora_A.weight", value: loraA, trainable: true)
        self.loraB = Parameter(name: "lora_B.weight", value: loraB, trainable: true)
        self.magnitude = Parameter(name: "lora_magnitude_vector", value: magnitude, trainable: true)
        self.options = options
        self.dropoutRNG = RNG(seed: dropoutSeed)
        self.normCache = Tensor.zeros([base.rows])
        self.normCache = adaptedRowNorms()
    }

    /// Wraps an existing layer: its dense weight becomes the frozen base in `format` (NF4 ⇒ QDoRA).
    public convenience init(wrapping layer: any LinearLayer, format: FrozenWeightFormat, options: DoRAOptions, seed: UInt64) throws {
        try self.init(base: FrozenWeight(layer.denseWeight(), format: format), bias: layer.denseBias, options: options, seed: seed)
    }

    /// s.
    public var scaling: Float { options.lora.scaling }

    /// ‖W[o, :] + s·B[o, :]·A‖₂ for every row, decoding W tile by tile: (O,).
    public func adaptedRowNorms() -> Tensor {
        var norms = Tensor.zeros([outFeatures])
        let (i, r, s) = (inFeatures, options.lora.rank, scaling)
        var scratch = [Float]()
        let a = loraA.value, b = loraB.value
        base.forEachRowTile { r0, r1, tile in
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: UnsafeBufferPointer(start: tile, count: (r1 - r0) * i))
            b.withUnsafeBufferPointer { pb in
                a.withUnsafeBufferPointer { pa in
                    scratch.withUnsafeMutableBufferPointer { w in
                        // SAFETY: B rows r0..<r1 are (r1−r0)×r with stride r; A is r×I; the tile copy is (r1−r0)×I.
                        BLAS.gemm(transposeA: false, transposeB: false, m: r1 - r0, n: i, k: r, alpha: s,
                                  a: pb.baseAddress! + r0 * r, lda: r, b: pa.baseAddress!, ldb: i,
                                  beta: 1, c: w.baseAddress!, ldc: i)
                        for row in r0..<r1 {
                            norms.storage[row] = Kernels.sumOfSquares(w.baseAddress! + (row - r0) * i, i).squareRoot()
                        }
                    }
                }
            }
        }
        return norms
    }

    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let rows = try x.asRows(features: inFeatures, layer: "DoRA")
        let training = keepForBackward
        let k = options.normCacheSteps
        if training {
            stepCounter += 1
            if stepCounter % k == 0 { normCache = adaptedRowNorms() }
        } else if k == 1 {
            normCache = adaptedRowNorms()
        }
        var ratio = magnitude.value
        for o in 0..<outFeatures { ratio.storage[o] /= normCache.storage[o] }

        var input = rows
        var mask: [Float]?
        if training && options.lora.dropout > 0 {
            let m = LoRAPieces.dropoutMask(count: rows.count, probability: options.lora.dropout, rng: &dropoutRNG)
            for j in 0..<m.count { input.storage[j] *= m[j] }
            mask = m
        }
        let projected = try Tensor.matmul(input, loraA.value, transposeB: true)
        let baseOut = try base.multiplyTransposed(rows, precision: computePrecision)  // x·Wᵀ
        var y: Tensor
        var unscaled: Tensor
        switch options.formula {
        case .peft:
            let droppedOut = mask == nil ? baseOut : try base.multiplyTransposed(input, precision: computePrecision)  // x̃·Wᵀ
            unscaled = droppedOut
            try Tensor.matmul(projected, loraB.value, transposeB: true, into: &unscaled, accumulate: true, alpha: scaling)
            // y = ν⊙(x̃·Wᵀ + s·x̃AᵀBᵀ) + x·Wᵀ − x̃·Wᵀ + b
            y = unscaled.scalingColumns(by: ratio)
            if mask != nil {
                try y.add(baseOut)
                try y.add(droppedOut, scaledBy: -1)
            }
            if let b = bias { try y.addRowVector(b.value) }
        case .qdoraFast:
            unscaled = baseOut
            if let b = bias { try unscaled.addRowVector(b.value) }
            try Tensor.matmul(projected, loraB.value, transposeB: true, into: &unscaled, accumulate: true, alpha: scaling)
            y = unscaled.scalingColumns(by: ratio)
        }
        cache = keepForBackward ? Cache(input: input, mask: mask, projected: projected, unscaled: unscaled, ratio: ratio) : nil
        return try y.reshaped(Array(x.shape.dropLast()) + [outFeatures])
    }

    /// dY (N, O) → dX (N, I); accumulates dm = Σ_N dY ⊙ unscaled / n, and LoRA's dA, dB on ν⊙dY.
    public func backward(_ dY: Tensor) throws -> Tensor {
        guard let c = cache else { throw LayerError.noForwardCache(layer: "DoRA") }
        let g = try dY.asRows(features: outFeatures, layer: "DoRA backward")
        let (n, o) = (g.count / Swift.max(1, outFeatures), outFeatures)
        if magnitude.trainable {
            var dm = Tensor.zeros([o])
            for row in 0..<n { for j in 0..<o { dm.storage[j] += g.storage[row * o + j] * c.unscaled.storage[row * o + j] } }
            for j in 0..<o { dm.storage[j] /= normCache.storage[j] }
            try magnitude.accumulateGradient(dm)
        }
        let gScaled = g.scalingColumns(by: c.ratio)  // ν⊙dY
        if loraB.trainable {
            try Tensor.matmul(gScaled, c.projected, transposeA: true, into: &loraB.gradient!, accumulate: true, alpha: scaling)
        }
        var gh = try Tensor.matmul(gScaled, loraB.value)
        gh.scale(by: scaling)
        if loraA.trainable { try Tensor.matmul(gh, c.input, transposeA: true, into: &loraA.gradient!, accumulate: true) }
        var dInput = try Tensor.matmul(gh, loraA.value)  // d x̃ from the LoRA path
        var dX: Tensor
        switch options.formula {
        case .peft where c.mask != nil:
            // x̃ also carries (ν − 1)⊙dY through W; x carries dY through W.
            var ratioMinusOne = c.ratio
            for j in 0..<o { ratioMinusOne.storage[j] -= 1 }
            try base.multiply(g.scalingColumns(by: ratioMinusOne), into: &dInput, accumulate: true, precision: computePrecision)
            for j in 0..<dInput.count { dInput.storage[j] *= c.mask![j] }
            dX = try base.multiply(g, precision: computePrecision)
            try dX.add(dInput)
        default:
            if let m = c.mask { for j in 0..<m.count { dInput.storage[j] *= m[j] } }
            dX = dInput
            try base.multiply(gScaled, into: &dX, accumulate: true, precision: computePrecision)
        }
        if let b = bias, b.trainable {
            try b.accumulateGradient(options.formula == .qdoraFast ? try gScaled.sumRows() : try g.sumRows())
        }
        return try dX.reshaped(Array(dY.shape.dropLast()) + [inFeatures])
    }

    public var parameters: [(name: String, parameter: Parameter)] {
        [("lora_A.weight", loraA), ("lora_B.weight", loraB), ("lora_magnitude_vector", magnitude)]
            + (bias.map { [("bias", $0)] } ?? [])
    }

    /// (m / ‖W + sBA‖)[:, None] ⊙ (W + sBA) (O, I) with fresh norms, as PEFT's merge.
    public func denseWeight() throws -> Tensor {
        var w = base.dense()
        try Tensor.matmul(loraB.value, loraA.value, into: &w, accumulate: true, alpha: scaling)
        let norms = adaptedRowNorms()
        let i = inFeatures
        for row in 0..<outFeatures {
            let f = magnitude.value.storage[row] / norms.storage[row]
            for j in 0..<i { w.storage[row * i + j] *= f }
        }
        return w
    }

    /// b, or ν⊙b under the fast QDoRA formula (which scales the bias), with fresh norms.
    public var denseBias: Tensor? {
        guard let b = bias?.value else { return nil }
        guard options.formula == .qdoraFast else { return b }
        let norms = adaptedRowNorms()
        var out = b
        for j in 0..<out.count { out.storage[j] *= magnitude.value.storage[j] / norms.storage[j] }
        return out
    }

    public func releaseForwardCache() { cache = nil }
}
