import FuRANN
import FuRATensor

// Legend: B sequences, T positions, C model dim, V vocabulary size; rows are (B·T) tokens.

/// The Llama-family causal LM (Llama 2/3, SmolLM2, Mistral, Qwen2 biases, Qwen3 q/k norms) as one
/// configurable class: forward and its mirror-image backward, with optional per-block recomputation.
///
/// Every parameter starts frozen; the adapter room decides what trains. Parameter names are HF's.
public final class CausalLM: LanguageModel {
    public let config: ModelConfig
    public let embedding: Embedding
    public let blocks: [DecoderBlock]
    public let finalNorm: RMSNorm
    /// The LM head (V, C); the embedding's parameter itself when tied.
    public let lmHead: Parameter
    /// Recompute each block's forward during backward instead of keeping its activations
    /// (gradient checkpointing): same gradients, memory of one block plus the block inputs.
    public var gradientCheckpointing = false
    /// The arithmetic of the large products (`ComputePrecision`): set here, it reaches every projection slot (and
    /// every layer put in one later) and the LM head; attention scores, norms, activations and the loss stay f32,
    /// except that the MLPs keep gate and up for the backward in bf16 (`SwiGLU.keepsBFloat16`).
    public var computePrecision = ComputePrecision.f32 {
        didSet {
            for name in linearSlotNames { linear(named: name)?.computePrecision = computePrecision }
            for block in blocks { block.mlp.keepsBFloat16 = computePrecision == .bf16 }
            if computePrecision == .f32 { headPacking.release() }
        }
    }
    /// The LM head packed at bf16, re-packed when it changes (a tied head that trains in full fine-tuning).
    let headPacking = PackingCache<TrainingPanels>()
    private var trace: (batch: Int, time: Int, ids: [Int], keyLengths: [Int], blockInputs: [Tensor], spliced: [SplicedRows])?

    /// Builds the model from HF-named tensors supplied by `tensor` (nil when absent).
    ///
    /// - Parameters: `source` names the file in errors; the tensors are (V, C) embeddings, (C,) norms,
    ///   projections (O, I) as HF stores them, biases (O,).
    /// - Parameter ropeFrequencyDivisors: (D/2,) divisors of the RoPE frequencies (llama.cpp's `rope_freqs`).
    /// - Parameter deferProjections: leave the projection weights in the file (`DeferredLinear`, read through `tensor`
    ///   when a method converts them or on first use), so that a streaming conversion holds one f32 weight at a time.
    public init(config: ModelConfig, source: String = "weights", ropeFrequencyDivisors: [Double]? = nil,
                deferProjections: Bool = false, tensor: @escaping (String) throws -> Tensor?) throws {
        try config.validate(source: source)
        self.config = config
        let family = config.family
        let (c, f, v, d) = (config.hiddenSize, config.intermediateSize, config.vocabSize, config.headDim)
        let (h, g) = (config.numAttentionHeads, config.numKeyValueHeads)
        func load(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let t = try tensor(name) else { throw ModelError.missingTensor(source: source, tensor: name) }
            guard t.shape == shape else { throw ModelError.shapeMismatch(source: source, tensor: name, expected: shape, actual: t.shape) }
            if let bad = t.storage.firstIndex(where: { !$0.isFinite }) {
                throw ModelError.unsupported(source: source, what: "tensor \(name)", reason: "element \(bad) is \(t.storage[bad]) (NaN or infinite weights); the file is damaged")
            }
            return t
        }
        func linear(_ name: String, _ o: Int, _ i: Int, bias: Bool) throws -> any LinearLayer {
            let b = bias ? try load(name + ".bias", [o]) : nil
            guard deferProjections else { return try DenseLinear(weight: load(name + ".weight", [o, i]), bias: b) }
            return try DeferredLinear(name: name, outFeatures: o, inFeatures: i, bias: b) { try load(name + ".weight", [o, i]) }
        }
        func norm(_ name: String, _ n: Int) throws -> RMSNorm {
            try RMSNorm(weight: Parameter(name: name, value: load(name, [n])), epsilon: Float(config.rmsNormEps), form: family.normForm)
        }
        let embed = Parameter(name: "model.embed_tokens.weight", value: try load("model.embed_tokens.weight", [v, c]))
        // Gemma scales by √C rounded to the weight dtype; our weights are Float.
        embedding = try Embedding(weight: embed, scale: family.scalesEmbedding ? Float(Double(c).squareRoot()) : 1)
        lmHead = config.tieWordEmbeddings ? embed : Parameter(name: "lm_head.weight", value: try load("lm_head.weight", [v, c]))
        finalNorm = try norm("model.norm.weight", c)
        var scaling: RotaryEmbedding.Llama3Scaling?
        if let s = config.ropeScaling, s.ropeType != "default" {
            guard s.ropeType == "llama3" else {
                throw ModelError.unsupported(source: source, what: "rope_scaling.rope_type \(s.ropeType)", reason: "only llama3 and default are implemented")
            }
            scaling = .init(factor: s.factor, lowFrequencyFactor: s.lowFreqFactor ?? 1, highFrequencyFactor: s.highFreqFactor ?? 4,
                            originalContextLength: s.originalMaxPositionEmbeddings ?? 8192)
        }
        let rope = try RotaryEmbedding(headDim: d, theta: config.ropeTheta, scaling: scaling, frequencyDivisors: ropeFrequencyDivisors)
        // Sliding-window layers with their own base rotate with it and no scaling (Gemma 3's local layers).
        let localTheta = (0..<config.numHiddenLayers).map { config.ropeTheta(layer: $0) }.first { $0 != config.ropeTheta }
        let localRope = try localTheta.map { try RotaryEmbedding(headDim: d, theta: $0) }
        let names = family.layerNorms
        blocks = try (0..<config.numHiddenLayers).map { i in
            let p = "model.layers.\(i)."
            let a = p + "self_attn."
            let sliding = config.usesSlidingWindow(layer: i)
            return DecoderBlock(
                index: i, inputNorm: try norm(p + names.input, c), postAttentionNorm: try norm(p + names.preMLP, c),
                q: try linear(a + "q_proj", h * d, c, bias: config.attentionBias),
                k: try linear(a + "k_proj", g * d, c, bias: config.attentionBias),
                v: try linear(a + "v_proj", g * d, c, bias: config.attentionBias),
                o: try linear(a + "o_proj", c, h * d, bias: false),
                qNorm: config.qkNorm ? try norm(a + "q_norm.weight", d) : nil,
                kNorm: config.qkNorm ? try norm(a + "k_norm.weight", d) : nil,
                mlp: try SwiGLU(gate: linear(p + "mlp.gate_proj", f, c, bias: config.mlpBias),
                                up: linear(p + "mlp.up_proj", f, c, bias: config.mlpBias),
                                down: linear(p + "mlp.down_proj", c, f, bias: config.mlpBias), activation: family.activation),
                rope: config.ropeTheta(layer: i) != config.ropeTheta ? localRope ?? rope : rope,
                attention: try CausalAttention(heads: h, keyValueHeads: g, headDim: d, scale: config.attentionScale,
                                               window: sliding ? config.slidingWindow : nil),
                attentionOutputNorm: try names.attentionOutput.map { try norm(p + $0, c) },
                mlpOutputNorm: try names.mlpOutput.map { try norm(p + $0, c) })
        }
    }

    /// A model with random weights (normal, std 0.02 for matrices, 1 ± noise for norms) for tests.
    public static func random(config: ModelConfig, seed: UInt64) throws -> CausalLM {
        var rng = RNG(seed: seed)
        return try CausalLM(config: config, source: "random") { name in
            let shape = try Self.expectedShape(of: name, config: config)
            if name.hasSuffix("norm.weight") || name.hasSuffix("layernorm.weight") {
                var t = Tensor.randomNormal(shape, std: 0.1, rng: &rng)
                if config.family.normForm == .weight { for i in 0..<t.count { t.storage[i] += 1 } }
                return t
            }
            return Tensor.randomNormal(shape, std: name.hasSuffix(".bias") ? 0.1 : 0.3 / Float(max(1, shape.last ?? 1)).squareRoot(), rng: &rng)
        }
    }

    /// The shape of an HF-named tensor under `config`.
    public static func expectedShape(of name: String, config: ModelConfig) throws -> [Int] {
        let (c, v, d) = (config.hiddenSize, config.vocabSize, config.headDim)
        let leaf = name.split(separator: ".").suffix(2).joined(separator: ".")
        switch leaf {
        case "embed_tokens.weight", "lm_head.weight": return [v, c]
        case "norm.weight", "input_layernorm.weight", "post_attention_layernorm.weight", "pre_feedforward_layernorm.weight",
             "post_feedforward_layernorm.weight": return [c]
        case "q_norm.weight", "k_norm.weight": return [d]
        default:
            for p in config.layerProjections {
                if leaf == p.leaf + ".weight" { return [p.rows, p.columns] }
                if leaf == p.leaf + ".bias" { return [p.rows] }
            }
            throw ModelError.unsupported(source: "config", what: "tensor \(name)", reason: "not part of a Llama-family model")
        }
    }

    // MARK: Forward and backward (mirror images)

    /// Token ids (B, T) → final-normed hidden states (B·T, C); keeps what backward needs when asked.
    /// `spliced` rows replace the token embeddings at their positions (see `SplicedRows`).
    public func forward(ids: [[Int]], lengths: [Int], keepForBackward: Bool, spliced: [SplicedRows] = []) throws -> Tensor {
        let (batch, time) = try Self.checkShape(ids: ids, lengths: lengths)
        let flat = ids.flatMap { $0 }
        var x = try embedding.forward(flat)
        try Self.splice(spliced, into: &x, time: time, lengths: lengths)
        var inputs: [Tensor] = []
        let keepBlocks = keepForBackward && !gradientCheckpointing
        for block in blocks {
            if keepForBackward && gradientCheckpointing { inputs.append(x) }
            x = try block.forward(x, batch: batch, time: time, keyLengths: lengths, keepForBackward: keepBlocks).output
        }
        let out = try finalNorm.forward(x, keepForBackward: keepForBackward)
        trace = keepForBackward ? (batch, time, flat, lengths, inputs, spliced) : nil
        return out
    }

    /// dHidden (B·T, C) → gradients of every trainable parameter (accumulated): `forward` in reverse.
    /// Returns the gradient of each spliced block's rows (count, C), in `spliced` order; those rows send nothing
    /// to the token table.
    @discardableResult
    public func backward(_ dHidden: Tensor) throws -> [Tensor] {
        guard let t = trace else { throw LayerError.noForwardCache(layer: "CausalLM") }
        var dX = try finalNorm.backward(dHidden)
        for block in blocks.reversed() {
            if gradientCheckpointing {
                _ = try block.forward(t.blockInputs[block.index], batch: t.batch, time: t.time, keyLengths: t.keyLengths, keepForBackward: true)
            }
            dX = try block.backward(dX)
            block.releaseForwardCache()
        }
        let c = config.hiddenSize
        let splicedGradients = try t.spliced.map { rows -> Tensor in
            let start = (rows.sequence * t.time + rows.position) * c
            let gradient = try Tensor(shape: [rows.count, c], data: Array(dX.storage[start..<(start + rows.count * c)]))
            for i in start..<(start + rows.count * c) { dX.storage[i] = 0 }
            return gradient
        }
        try embedding.backward(dX, ids: t.ids)
        finalNorm.releaseForwardCache()
        trace = nil
        return splicedGradients
    }

    /// Writes each block's rows over the embeddings (B·T, C) at its positions, after checking it fits.
    static func splice(_ spliced: [SplicedRows], into x: inout Tensor, time: Int, lengths: [Int]) throws {
        guard !spliced.isEmpty else { return }
        let c = x.shape[1]
        var taken = Set<Int>()
        for rows in spliced {
            guard rows.sequence >= 0, rows.sequence < lengths.count, rows.count >= 1, rows.position >= 0,
                  rows.position <= lengths[rows.sequence] - rows.count else {
                throw ModelError.badBatch(reason: "spliced rows at sequence \(rows.sequence), positions \(rows.position)+\(rows.count) "
                    + "fall outside the batch's real positions")
            }
            guard rows.rows.shape == [rows.count, c] else {
                throw ModelError.badBatch(reason: "spliced rows are \(rows.rows.shape); expected [\(rows.count), \(c)] (the model width)")
            }
            let start = rows.sequence * time + rows.position
            for p in start..<(start + rows.count) {
                guard taken.insert(p).inserted else { throw ModelError.badBatch(reason: "two spliced blocks overlap at position \(p % time)") }
            }
            x.storage.replaceSubrange((start * c)..<((start + rows.count) * c), with: rows.rows.storage)
        }
    }

    // MARK: LanguageModel

    public func accumulateGradients(_ batch: TokenBatch, lossScale: Float) throws -> (lossSum: Double, targets: Int) {
        let result = try accumulateGradientsThroughSplices(batch, lossScale: lossScale)
        return (result.lossSum, result.targets)
    }

    /// `accumulateGradients`, also returning the gradient of `lossScale · loss` with respect to the rows of each
    /// `batch.spliced` block (zeros when the batch has no target).
    public func accumulateGradientsThroughSplices(_ batch: TokenBatch, lossScale: Float) throws
        -> (lossSum: Double, targets: Int, splicedGradients: [Tensor]) {
        let targets = try Self.targets(of: batch)
        let hidden = try forward(ids: batch.ids, lengths: batch.lengths, keepForBackward: true, spliced: batch.spliced)
        let result = try MaskedCrossEntropy.evaluate(hidden: hidden, head: lmHead, packedHead: packedHead(), targets: targets, lossScale: lossScale, computeGradient: true)
        let c = config.hiddenSize
        let gradients = try result.dHidden.map { try backward($0) } ?? batch.spliced.map { Tensor.zeros([$0.count, c]) }
        if result.dHidden == nil { trace = nil }
        return (result.lossSum, targets.count, gradients)
    }

    public func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]] {
        let targets = try Self.targets(of: batch)
        let hidden = try forward(ids: batch.ids, lengths: batch.lengths, keepForBackward: false, spliced: batch.spliced)
        let result = try MaskedCrossEntropy.evaluate(hidden: hidden, head: lmHead, packedHead: packedHead(), targets: targets, computeGradient: false)
        let time = batch.sequenceLength
        var out = [[Float]](repeating: [Float](repeating: 0, count: time), count: batch.batchSize)
        for (k, target) in targets.enumerated() { out[target.row / time][target.row % time] = result.logProbabilities[k] }
        return out
    }

    // MARK: Inference

    /// Logits (N, V) of hidden rows (N, C).
    public func logits(hidden: Tensor) throws -> Tensor {
        if let packed = try packedHead() { return try packed.multiplyTransposed(hidden) }
        return try Tensor.matmul(hidden, lmHead.value, transposeB: true)
    }

    /// The LM head packed for bf16 products, or nil at f32.
    func packedHead() throws -> TrainingPanels? {
        guard computePrecision == .bf16 else { return nil }
        return try headPacking.value(version: lmHead.version, precision: .bf16) { try TrainingPanels(lmHead.value, precision: .bf16) }
    }

    /// Final-normed hidden state at the last real position of each sequence: (B, C).
    public func lastHiddenState(ids: [[Int]], lengths: [Int]? = nil) throws -> Tensor {
        let lengths = lengths ?? ids.map(\.count)
        let hidden = try forward(ids: ids, lengths: lengths, keepForBackward: false)
        let (time, c) = (ids.first?.count ?? 0, config.hiddenSize)
        var out = Tensor.zeros([ids.count, c])
        for (b, length) in lengths.enumerated() {
            out.storage.replaceSubrange((b * c)..<((b + 1) * c), with: hidden.storage[((b * time + length - 1) * c)..<((b * time + length) * c)])
        }
        return out
    }

    /// Logits at the last real position of each sequence (B, V), or at every position (B·T, V).
    public func logits(for ids: [[Int]], lengths: [Int]? = nil, allPositions: Bool = false) throws -> Tensor {
        if allPositions {
            return try logits(hidden: forward(ids: ids, lengths: lengths ?? ids.map(\.count), keepForBackward: false))
        }
        return try logits(hidden: lastHiddenState(ids: ids, lengths: lengths))
    }

    /// One step with a key/value cache: new ids (B, T) whose positions follow the cached ones →
    /// final-normed hidden states (B·T, C); `cache` (one entry per layer, or empty) is extended.
    /// All sequences share the cache length (no padding inside the cache).
    public func forwardCached(ids: [[Int]], cache: inout [KeyValue], spliced: [SplicedRows] = []) throws -> Tensor {
        let (batch, time) = try Self.checkShape(ids: ids, lengths: ids.map(\.count))
        guard cache.isEmpty || cache.count == blocks.count else {
            throw ModelError.badBatch(reason: "the cache has \(cache.count) layers, the model \(blocks.count)")
        }
        let past = cache.first?.length ?? 0
        var x = try embedding.forward(ids.flatMap { $0 })
        try Self.splice(spliced, into: &x, time: time, lengths: ids.map(\.count))
        var present: [KeyValue] = []
        for block in blocks {
            let r = try block.forward(x, batch: batch, time: time, keyLengths: Array(repeating: past + time, count: batch),
                                      past: cache.isEmpty ? nil : cache[block.index], keepForBackward: false)
            x = r.output
            present.append(r.present)
        }
        cache = present
        return try finalNorm.forward(x, keepForBackward: false)
    }

    // MARK: Batch checks

    static func checkShape(ids: [[Int]], lengths: [Int]) throws -> (Int, Int) {
        let batch = ids.count, time = ids.first?.count ?? 0
        guard batch > 0, time > 0 else { throw ModelError.badBatch(reason: "empty batch (B = \(batch), T = \(time))") }
        guard ids.allSatisfy({ $0.count == time }) else { throw ModelError.badBatch(reason: "rows of different lengths; pad to one T") }
        guard lengths.count == batch, lengths.allSatisfy({ $0 >= 1 && $0 <= time }) else {
            throw ModelError.badBatch(reason: "lengths \(lengths) must be \(batch) values in 1...\(time)")
        }
        return (batch, time)
    }

    static func targets(of batch: TokenBatch) throws -> [MaskedCrossEntropy.Target] {
        let time = batch.sequenceLength
        guard batch.labels.count == batch.batchSize, batch.labels.allSatisfy({ $0.count == time }) else {
            throw ModelError.badBatch(reason: "labels must be \(batch.batchSize) rows of \(time)")
        }
        for rows in batch.spliced {
            // Label t predicts token t + 1: a spliced row's placeholder id is never a target.
            for t in max(0, rows.position - 1)..<max(0, rows.position - 1 + rows.count) where rows.sequence < batch.labels.count && t < time {
                guard batch.labels[rows.sequence][t] == TokenBatch.ignoreIndex else {
                    throw ModelError.badBatch(reason: "position \(t + 1) of sequence \(rows.sequence) is spliced but is a label target")
                }
            }
        }
        var out: [MaskedCrossEntropy.Target] = []
        for (b, row) in batch.labels.enumerated() {
            for (t, label) in row.enumerated() where label != TokenBatch.ignoreIndex { out.append(.init(row: b * time + t, label: label)) }
        }
        return out
    }
}
