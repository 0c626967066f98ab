import FuRANN
import FuRATensor

// Legend: N rows (tokens, leading dimensions flattened), I input features, O output features, r LoRA rank.

/// LoRA with PEFT semantics over a frozen base of any storage (f32, bf16, or NF4 ⇒ QLoRA):
/// `y = x·Wᵀ + b + s · (drop(x)·Aᵀ)·Bᵀ`, s = α/r (or α/√r), A (r, I) Kaiming-uniform, B (O, r) zeros.
///
/// A forward with `keepForBackward: true` is a training forward: dropout (seeded by `dropoutRNG`) is
/// applied to the LoRA path's input and its mask kept for backward. The base weight and bias stay frozen.
public final class LoRALinear: LinearLayer {
    public var inFeatures: Int { base.columns }
    public var outFeatures: Int { base.rows }
    /// W (O, I), frozen.
    public let base: FrozenWeight
    /// b (O,), frozen unless set trainable (PEFT `bias="none"`).
    public let bias: Parameter?
    public var computePrecision = ComputePrecision.f32
    /// `lora_A.weight` (r, I).
    public let loraA: Parameter
    /// `lora_B.weight` (O, r).
    public let loraB: Parameter
    public let options: LoRAOptions
    /// The generator of the dropout masks (part of a checkpoint's state).
    public var dropoutRNG: RNG
    /// PiSSA's starting factors (A₀, B₀) when the base is the residual W − s·B₀·A₀ (nil for plain LoRA).
    public var initialFactors: (a: Tensor, b: Tensor)?

    private struct Cache {
        var input: Tensor  // drop(x) (N, I)
        var mask: [Float]?  // (N·I) or nil without dropout
        var projected: Tensor  // drop(x)·Aᵀ (N, r)
    }
    private var cache: Cache?

    /// A fresh adapter on `base` (O, I): A Kaiming-uniform from `seed`, B zero, so the output equals the base's.
    public convenience init(base: FrozenWeight, bias: Tensor? = nil, options: LoRAOptions, seed: UInt64) throws {
        try options.validate(layer: "LoRA")
        try LoRAPieces.checkRank(options.rank, rows: base.rows, columns: base.columns, layer: "LoRA")
        var rng = RNG(seed: seed)
        let a = LoRAPieces.initialA(rank: options.rank, inFeatures: base.columns, rng: &rng)
        try self.init(base: base, bias: bias, loraA: a, loraB: Tensor.zeros([base.rows, options.rank]), options: options,
                      dropoutSeed: seed &+ 1)
    }

    /// An adapter with given factors (for loading): A (r, I), B (O, r).
    public init(base: FrozenWeight, bias: Tensor?, loraA: Tensor, loraB: Tensor, options: LoRAOptions, dropoutSeed: UInt64) throws {
        try options.validate(layer: "LoRA")
        try LoRAPieces.requireShape(loraA, [options.rank, base.columns], key: "lora_A.weight", layer: "LoRA")
        try LoRAPieces.requireShape(loraB, [base.rows, options.rank], key: "lora_B.weight", layer: "LoRA")
        if let b = bias { try LoRAPieces.requireShape(b, [base.rows], key: "bias", layer: "LoRA") }
        self.base = base
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
        self.loraA = Parameter(name: "lora_A.weight", value: loraA, trainable: true)
        self.loraB = Parameter(name: "lora_B.weight", value: loraB, trainable: true)
        self.options = options
        self.dropoutRNG = RNG(seed: dropoutSeed)
    }

    /// Wraps an existing layer: its dense weight becomes the frozen base in `format` (NF4 ⇒ QLoRA).
    public convenience init(wrapping layer: any LinearLayer, format: FrozenWeightFormat, options: LoRAOptions, seed: UInt64) throws {
        try self.init(base: FrozenWeight(layer.denseWeight(), format: format), bias: layer.denseBias, options: options, seed: seed)
    }

    /// s.
    public var scaling: Float { options.scaling }

    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let rows = try x.asRows(features: inFeatures, layer: "LoRA")
        var y = try base.multiplyTransposed(rows, precision: computePrecision)
        if let b = bias { try y.addRowVector(b.value) }
        var input = rows
        var mask: [Float]?
        if keepForBackward && options.dropout > 0 {
            let m = LoRAPieces.dropoutMask(count: rows.count, probability: options.dropout, rng: &dropoutRNG)
            for k in 0..<m.count { input.storage[k] *= m[k] }
            mask = m
        }
        let projected = try Tensor.matmul(input, loraA.value, transposeB: true)
        try Tensor.matmul(projected, loraB.value, transposeB: true, into: &y, accumulate: true, alpha: scaling)
        cache = keepForBackward ? Cache(input: input, mask: mask, projected: projected) : nil
        return try y.reshaped(Array(x.shape.dropLast()) + [outFeatures])
    }

    /// dY (N, O) → dX (N, I); accumulates dA = s·(dY·B)ᵀ·drop(x), dB = s·dYᵀ·(drop(x)·Aᵀ).
    public func backward(_ dY: Tensor) throws -> Tensor {
        guard let c = cache else { throw LayerError.noForwardCache(layer: "LoRA") }
        let g = try dY.asRows(features: outFeatures, layer: "LoRA backward")
        if loraB.trainable { try Tensor.matmul(g, c.projected, transposeA: true, into: &loraB.gradient!, accumulate: true, alpha: scaling) }
        var gh = try Tensor.matmul(g, loraB.value)
        gh.scale(by: scaling)
        if loraA.trainable { try Tensor.matmul(gh, c.input, transposeA: true, into: &loraA.gradient!, accumulate: true) }
        var dInput = try Tensor.matmul(gh, loraA.value)
        if let m = c.mask { for k in 0..<m.count { dInput.storage[k] *= m[k] } }
        try base.multiply(g, into: &dInput, accumulate: true, precision: computePrecision)
        if let b = bias, b.trainable { try b.accumulateGradient(try g.sumRows()) }
        return try dInput.reshaped(Array(dY.shape.dropLast()) + [inFeatures])
    }

    public var parameters: [(name: String, parameter: Parameter)] {
        [("lora_A.weight", loraA), ("lora_B.weight", loraB)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// W + s·B·A (O, I), with W decoded from its storage (so an NF4 base keeps its quantization error).
    public func denseWeight() throws -> Tensor {
        var w = base.dense()
        try Tensor.matmul(loraB.value, loraA.value, into: &w, accumulate: true, alpha: scaling)
        return w
    }

    public var denseBias: Tensor? { bias?.value }
    public func releaseForwardCache() { cache = nil }
}
