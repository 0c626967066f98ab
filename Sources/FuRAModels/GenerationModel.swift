import FuRAFormats
import FuRANN
import FuRATensor

// Legend: N rows (new tokens of all sequences of one step, packed), C model dim, H query heads,
// G key/value heads, D head dim, V vocabulary size, P cache capacity.

/// The inference-only forward of a `CausalLM` over a `KVCache`: packed rows of many sequences of
/// different lengths, each row at its own position, attending only to its own slot.
///
/// Prefill and decode are the same call: a step appends any number of tokens to any set of slots.
/// Projections go through each slot's `LinearLayer` (so adapters apply), or through compact
/// weight copies the packer makes for frozen dense layers.
public final class GenerationModel {
    public let model: CausalLM
    /// How frozen weights are packed and multiplied; `.llamaCpp` runs every layer in llama.cpp's arithmetic
    /// (GenerationModel+LlamaCpp.swift).
    public let precision: GenerationWeightPrecision
    /// The distinct rotary embeddings of the blocks (one; Gemma's global and local), and each block's index into them.
    let ropes: [RotaryEmbedding]
    let ropeOfBlock: [Int]
    /// Per rope: cos and sin tables (P, D/2) for positions 0..<tablePositions, grown on demand.
    var cosTables: [[Float]] = []
    var sinTables: [[Float]] = []
    var tablePositions = 0
    /// The rope whose tables `cosTable`/`sinTable` give (set per block).
    var activeRope = 0
    var cosTable: [Float] { activeRope < cosTables.count ? cosTables[activeRope] : [] }
    var sinTable: [Float] { activeRope < sinTables.count ? sinTables[activeRope] : [] }
    /// Per block: (q, k, v), o, (gate, up), down.
    var projections: [(qkv: GenerationProjectionGroup, o: GenerationProjection, gateUp: GenerationProjectionGroup, down: GenerationProjection)]
    var head: GenerationProjection

    /// What the packed weights are (precision, bytes, GGUF blocks used), for logs.
    public let weightSummary: String
    /// Bytes of the packed weight copies (what a batch-1 decode step streams, LM head included).
    public let weightBytes: Int

    /// Wraps `model`, reading frozen dense weights from packed copies in `precision` (made once here;
    /// after the weights change, `refreshWeights()` or a new engine). `gguf`: the file the model was loaded from, whose
    /// Q4_0/Q4_1/Q5_0/Q8_0/Q4_K/Q6_K blocks `.gguf` reads (`LoadedModel.gguf`).
    public init(model: CausalLM, precision: GenerationWeightPrecision = .float32, gguf: GGUFFile? = nil) throws {
        self.model = model
        self.precision = precision
        if precision == .llamaCpp { try Self.checkLlamaCppArithmetic(model) }
        var ropes: [RotaryEmbedding] = []
        ropeOfBlock = model.blocks.map { b in
            if let i = ropes.firstIndex(of: b.rope) { return i }
            ropes.append(b.rope)
            return ropes.count - 1
        }
        self.ropes = ropes
        let packer = try GenerationPacker(precision: precision, gguf: gguf, config: model.config)
        projections = try model.blocks.enumerated().map { i, b in
            let n = "model.layers.\(i)."
            return (try GenerationProjectionGroup([(b.qProj, n + "self_attn.q_proj.weight"), (b.kProj, n + "self_attn.k_proj.weight"),
                                                   (b.vProj, n + "self_attn.v_proj.weight")], packer: packer),
                    try GenerationProjection(b.oProj, name: n + "self_attn.o_proj.weight", packer: packer),
                    try GenerationProjectionGroup([(b.mlp.gate, n + "mlp.gate_proj.weight"), (b.mlp.up, n + "mlp.up_proj.weight")], packer: packer),
                    try GenerationProjection(b.mlp.down, name: n + "mlp.down_proj.weight", packer: packer))
        }
        if model.lmHead.trainable {
            head = GenerationProjection(dense: model.lmHead)
        } else {
            let name = model.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"
            head = try GenerationProjection(parts: [(model.lmHead, name)], packer: packer, keepDense: true)
        }
        weightSummary = packer.summary
        weightBytes = packer.bytes
    }

    /// Re-reads the model's weights into the packed copies in place, after they changed (GRPO's rollout weights
    /// after each update): no allocation and no new engine. f32, bf16 and bf16-compute only (the other kinds hold
    /// codes of quantization or of a file's blocks: build a new engine for them).
    public func refreshWeights() throws {
        guard precision.refreshesInPlace else {
            throw GenerationError.invalidOption(option: "precision", value: precision.rawValue,
                                                reason: "holds quantized codes that are not refreshed in place (build a new engine, or use f32, bf16 or bf16-compute)")
        }
        for i in projections.indices {
            try projections[i].qkv.refresh(); try projections[i].o.refresh()
            try projections[i].gateUp.refresh(); try projections[i].down.refresh()
        }
        try head.refresh()
    }

    /// A cache for `slots` sequences of up to `capacity` positions of this model, keys and values in `precision`.
    public func makeCache(slots: Int, capacity: Int, precision: KVCache.Precision = .float32) throws -> KVCache {
        try KVCache(model: model, slots: slots, capacity: capacity, precision: precision)
    }

    /// Appends `tokens[i]` to slot `slots[i]` of `cache` and returns logits: (R, V) for the last new
    /// token of each listed slot (R = slots.count), or for every new token (R = N) with `allPositions`.
    public func step(cache: KVCache, slots: [Int], tokens: [[Int]], allPositions: Bool = false) throws -> Tensor {
        if precision == .llamaCpp, let pieces = Self.llamaCppMicroBatches(tokens) {
            let logits = try pieces.map { try step(cache: cache, slots: slots, tokens: [$0], allPositions: allPositions) }
            guard allPositions else { return logits.last! }
            return try Tensor(shape: [logits.reduce(0) { $0 + $1.shape[0] }, model.config.vocabSize], data: logits.flatMap(\.storage))
        }
        let hidden = try forward(cache: cache, slots: slots, tokens: tokens, allPositions: allPositions)
        return try head.apply(hidden)
    }

    /// `step` up to the final norm: hidden states (R, C) of the rows whose logits `step` returns.
    public func forward(cache: KVCache, slots: [Int], tokens: [[Int]], allPositions: Bool = false) throws -> Tensor {
        let rows = try plan(cache: cache, slots: slots, tokens: tokens)
        let decode = rows.count == slots.count
        var x = try model.embedding.forward(tokens.flatMap { $0 })
        for (i, block) in model.blocks.enumerated() {
            x = try blockForward(block, projections[i], x, rows: rows, cache: cache, oneRowPerSlot: decode)
        }
        for (slot, t) in zip(slots, tokens) { cache.lengths[slot] += t.count }
        if !allPositions {
            let c = model.config.hiddenSize
            let ends = tokens.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1.count) }
            x = x.withUnsafeBufferPointer { px in
                Tensor.filled([slots.count, c]) { last in
                    for (i, end) in ends.enumerated() { (last + i * c).update(from: px.baseAddress! + (end - 1) * c, count: c) }
                }
            }
        }
        return try normalize(x, model.finalNorm)
    }

    /// (slot, position) of every packed row, after checking slots, ids and capacity.
    func plan(cache: KVCache, slots: [Int], tokens: [[Int]]) throws -> [(slot: Int, position: Int)] {
        guard !slots.isEmpty, slots.count == tokens.count, Set(slots).count == slots.count else {
            throw GenerationError.badInput(reason: "a step needs distinct slots, one token list each (got \(slots.count) slots, \(tokens.count) lists)")
        }
        guard cache.layers == model.blocks.count, cache.keyValueHeads == model.config.numKeyValueHeads,
              cache.headDim == model.config.headDim else {
            throw GenerationError.badInput(reason: "the cache (layers \(cache.layers), heads \(cache.keyValueHeads), dim \(cache.headDim)) does not match the model")
        }
        if tablePositions < cache.capacity {
            let tables = ropes.map { precision == .llamaCpp ? Self.llamaCppRopeTables($0, positions: cache.capacity) : $0.tables(positions: cache.capacity, start: 0) }
            (cosTables, sinTables) = (tables.map(\.cos), tables.map(\.sin))
            tablePositions = cache.capacity
        }
        let v = model.config.vocabSize
        var rows: [(slot: Int, position: Int)] = []
        for (slot, t) in zip(slots, tokens) {
            guard slot >= 0, slot < cache.slots else { throw GenerationError.badInput(reason: "slot \(slot) is outside 0..<\(cache.slots)") }
            guard !t.isEmpty else { throw GenerationError.badInput(reason: "slot \(slot) got no tokens") }
            if let bad = t.first(where: { $0 < 0 || $0 >= v }) {
                throw GenerationError.badInput(reason: "token id \(bad) is outside the vocabulary 0..<\(v)")
            }
            let start = cache.lengths[slot]
            guard start + t.count <= cache.capacity else {
                throw GenerationError.contextFull(needed: start + t.count, capacity: cache.capacity)
            }
            cache.prepareWrite(slot: slot, position: start)
            rows += (0..<t.count).map { (slot, start + $0) }
        }
        return rows
    }

    /// One decoder layer over packed rows x (N, C) → (N, C), writing its keys and values into the cache.
    /// `oneRowPerSlot`: every row is the only new row of its slot (a decode step).
    func blockForward(_ block: DecoderBlock, _ p: (qkv: GenerationProjectionGroup, o: GenerationProjection, gateUp: GenerationProjectionGroup, down: GenerationProjection), _ x: Tensor,
                      rows: [(slot: Int, position: Int)], cache: KVCache, oneRowPerSlot: Bool = false) throws -> Tensor {
        let (h, g, d) = (block.attention.heads, block.attention.keyValueHeads, block.attention.headDim)
        activeRope = ropeOfBlock[block.index]
        let h1 = try normalize(x, block.inputNorm)
        let qkv = try p.qkv.apply(h1)
        var q = qkv[0], k = qkv[1]
        let v = qkv[2]
        if let qn = block.qNorm { q = try qn.forward(q.reshaped([q.count / d, d]), keepForBackward: false).reshaped(q.shape) }
        if let kn = block.kNorm { k = try kn.forward(k.reshaped([k.count / d, d]), keepForBackward: false).reshaped(k.shape) }
        let a: Tensor
        if precision == .llamaCpp {
            a = attendLikeLlamaCpp(q, k, v, rows: rows, layer: block.index, cache: cache, heads: h)
        } else if oneRowPerSlot && attendsFast(heads: h, cache: cache) {
            // Decode: each attention task rotates and stores its own row's key and value (in parallel).
            a = attend(q, rows: rows, layer: block.index, cache: cache, heads: h, newKeys: (k, v))
        } else {
            rotate(&q, rows: rows, heads: h)
            rotate(&k, rows: rows, heads: g)
            store(k, v, rows: rows, layer: block.index, cache: cache)
            a = attend(q, rows: rows, layer: block.index, cache: cache, heads: h)
        }
        var x2 = try p.o.apply(a)
        if let n = block.attentionOutputNorm { x2 = try n.forward(x2, keepForBackward: false) }
        try x2.add(x)
        let h2 = try normalize(x2, block.postAttentionNorm)
        let n = h2.count / max(1, model.config.hiddenSize)
        let act: Tensor
        if let gateUp = try p.gateUp.applyFused(h2) {
            // (N, 2·I): each row holds gate then up.
            let width = gateUp.count / max(1, n) / 2
            act = gateUp.withUnsafeBufferPointer { pg in
                gatedActivation(block.mlp.activation, rows: n, width: width, gate: pg.baseAddress!, ldg: 2 * width, up: pg.baseAddress! + width, ldu: 2 * width)
            }
        } else {
            let gateUp = try p.gateUp.apply(h2)
            let width = gateUp[0].count / max(1, n)
            act = gateUp[0].withUnsafeBufferPointer { pg in gateUp[1].withUnsafeBufferPointer { pu in
                gatedActivation(block.mlp.activation, rows: n, width: width, gate: pg.baseAddress!, ldg: width, up: pu.baseAddress!, ldu: width)
            } }
        }
        var y = try p.down.apply(act)
        if let n = block.mlpOutputNorm { y = try n.forward(y, keepForBackward: false) }
        try y.add(x2)
        return y
    }

    /// x (N, C) through an RMS norm: the layer's own, or `ggml_rms_norm` in llama.cpp's arithmetic.
    func normalize(_ x: Tensor, _ norm: RMSNorm) throws -> Tensor {
        precision == .llamaCpp ? Self.rmsNormLikeLlamaCpp(x, norm) : try norm.forward(x, keepForBackward: false)
    }

    /// act(gate) ⊙ up → (N, width) with the block's activation (ggml's SwiGLU in llama.cpp's arithmetic), rows
    /// split over threads; gate row r at gate + r·ldg, up row r at up + r·ldu.
    func gatedActivation(_ activation: GatedActivation, rows n: Int, width: Int, gate: UnsafePointer<Float>, ldg: Int,
                                up: UnsafePointer<Float>, ldu: Int) -> Tensor {
        Tensor.filled([n, width]) { out in
            Threading.parallelFor(n, minimumPerChunk: max(1, 32_768 / max(1, width))) { start, end in
                for r in start..<end {
                    let o = out + r * width
                    o.update(from: gate + r * ldg, count: width)
                    if precision == .llamaCpp {
                        GGMLElementwise.swiglu(o, up: up + r * ldu, count: width)
                    } else {
                        activation.gated(gate: o, up: up + r * ldu, count: width)
                    }
                }
            }
        }
    }
}
