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
/// weight copies made by `compactWeights` for frozen dense layers.
public final class GenerationModel {
    public let model: CausalLM
    let rope: RotaryEmbedding
    /// RoPE cos and sin tables (P, D/2) for positions 0..<tablePositions, grown on demand.
    var cosTable: [Float] = []
    var sinTable: [Float] = []
    var tablePositions = 0
    /// Per block: (q, k, v), o, (gate, up), down.
    var projections: [(qkv: GenerationProjectionGroup, o: GenerationProjection, gateUp: GenerationProjectionGroup, down: GenerationProjection)]
    var head: GenerationProjection

    /// What the packed weights are (precision, bytes, GGUF blocks used), for logs.
    public let weightSummary: String
    /// Bytes of the packed weight copies (what a batch-1 decode step streams, LM head included).
    public let weightBytes: Int

    /// Wraps `model`, reading frozen dense weights from packed copies in `precision` (made once here,
    /// so rebuild this after the weights change). `gguf`: the file the model was loaded from, whose
    /// Q4_1/Q8_0 blocks `.gguf` reads (`LoadedModel.gguf`).
    public init(model: CausalLM, precision: GenerationWeightPrecision = .float32, gguf: GGUFFile? = nil) throws {
        self.model = model
        rope = try model.blocks.first?.rope ?? RotaryEmbedding(headDim: model.config.headDim, theta: model.config.ropeTheta)
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
            head = GenerationProjection(dense: model.lmHead.value)
        } else {
            let name = model.config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"
            head = try GenerationProjection(parts: [(model.lmHead.value, name)], packer: packer, keepDense: true)
        }
        weightSummary = packer.summary
        weightBytes = packer.bytes
    }

    /// A cache for `slots` sequences of up to `capacity` positions of this model.
    public func makeCache(slots: Int, capacity: Int) throws -> KVCache { try KVCache(model: model, slots: slots, capacity: capacity) }

    /// Appends `tokens[i]` to slot `slots[i]` of `cache` and returns logits: (R, V) for the last new
    /// token of each listed slot (R = slots.count), or for every new token (R = N) with `allPositions`.
    public func step(cache: KVCache, slots: [Int], tokens: [[Int]], allPositions: Bool = false) throws -> Tensor {
        let hidden = try forward(cache: cache, slots: slots, tokens: tokens, allPositions: allPositions)
        return try head.apply(hidden)
    }

    /// `step` up to the final norm: hidden states (R, C) of the rows whose logits `step` returns.
    public func forward(cache: KVCache, slots: [Int], tokens: [[Int]], allPositions: Bool = false) throws -> Tensor {
        let rows = try plan(cache: cache, slots: slots, tokens: tokens)
        var x = try model.embedding.forward(tokens.flatMap { $0 })
        for (i, block) in model.blocks.enumerated() {
            x = try blockForward(block, projections[i], x, rows: rows, cache: cache)
        }
        for (slot, t) in zip(slots, tokens) { cache.lengths[slot] += t.count }
        if !allPositions {
            let c = model.config.hiddenSize
            var last = Tensor.zeros([slots.count, c])
            var end = 0
            for (i, t) in tokens.enumerated() {
                end += t.count
                last.storage.replaceSubrange((i * c)..<((i + 1) * c), with: x.storage[((end - 1) * c)..<(end * c)])
            }
            x = last
        }
        return try model.finalNorm.forward(x, keepForBackward: false)
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
            (cosTable, sinTable) = rope.tables(positions: cache.capacity, start: 0)
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
    func blockForward(_ block: DecoderBlock, _ p: (qkv: GenerationProjectionGroup, o: GenerationProjection, gateUp: GenerationProjectionGroup, down: GenerationProjection), _ x: Tensor,
                      rows: [(slot: Int, position: Int)], cache: KVCache) throws -> Tensor {
        let (h, g, d) = (block.attention.heads, block.attention.keyValueHeads, block.attention.headDim)
        let h1 = try block.inputNorm.forward(x, keepForBackward: false)
        let qkv = try p.qkv.apply(h1)
        var q = qkv[0], k = qkv[1]
        let v = qkv[2]
        if let qn = block.qNorm { q = try qn.forward(q.reshaped([q.count / d, d]), keepForBackward: false).reshaped(q.shape) }
        if let kn = block.kNorm { k = try kn.forward(k.reshaped([k.count / d, d]), keepForBackward: false).reshaped(k.shape) }
        rotate(&q, rows: rows, heads: h)
        rotate(&k, rows: rows, heads: g)
        store(k, v, rows: rows, layer: block.index, cache: cache)
        let a = attend(q, rows: rows, layer: block.index, cache: cache, heads: h)
        var x2 = try p.o.apply(a)
        try x2.add(x)
        let h2 = try block.postAttentionNorm.forward(x2, keepForBackward: false)
        let gateUp = try p.gateUp.apply(h2)
        var gate = gateUp[0]
        let up = gateUp[1]
        gate.withUnsafeMutableBufferPointer { pg in up.withUnsafeBufferPointer { pu in
            Kernels.silu(pg.baseAddress!, pg.baseAddress!, pg.count)
            for i in 0..<pg.count { pg[i] *= pu[i] }
        } }
        var y = try p.down.apply(gate)
        try y.add(x2)
        return y
    }

    /// Rotates rows (N, heads·D) in place, row r at its own position (HF rotate-half convention).
    func rotate(_ x: inout Tensor, rows: [(slot: Int, position: Int)], heads: Int) {
        let d = model.config.headDim, half = d / 2
        x.withUnsafeMutableBufferPointer { px in cosTable.withUnsafeBufferPointer { pc in sinTable.withUnsafeBufferPointer { ps in
            for (r, row) in rows.enumerated() {
                let c = pc.baseAddress! + row.position * half, s = ps.baseAddress! + row.position * half
                for head in 0..<heads {
                    let v = px.baseAddress! + (r * heads + head) * d
                    for i in 0..<half {
                        let a = v[i], b = v[i + half]
                        v[i] = a * c[i] - b * s[i]
                        v[i + half] = b * c[i] + a * s[i]
                    }
                }
            }
        } } }
    }

    /// Writes keys and values (N, G·D) of each row at its (slot, position) of `layer`.
    func store(_ k: Tensor, _ v: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache) {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
            for (r, row) in rows.enumerated() {
                for head in 0..<g {
                    // SAFETY: position < capacity was checked by `plan`; each copy is D floats of one row.
                    let key = cache.keyBase(layer: layer, slot: row.slot, head: head), src = pk.baseAddress! + (r * g + head) * d
                    let value = cache.valueBase(layer: layer, slot: row.slot, head: head), vs = pv.baseAddress! + (r * g + head) * d
                    for i in 0..<d {
                        key[cache.keyIndex(row.position, i)] = src[i]
                        value[cache.valueIndex(row.position, i)] = vs[i]
                    }
                }
            }
        } }
    }

    /// Causal attention of q (N, H·D) over each row's own slot, positions 0...position → (N, H·D).
    ///
    /// One task per (row, key/value head): the H/G query heads that share the head's keys read each
    /// key and value once, as SIMD16 vectors (D a multiple of 16; other D use `attendReference`).
    /// Rows whose slots read shared positions from one slot (`KVCache.shareSlot`) run back to back,
    /// so those keys and values come from cache rather than memory.
    func attend(_ q: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache, heads h: Int) -> Tensor {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        guard d % 16 == 0, h % g == 0, h / g <= 8 else { return attendReference(q, rows: rows, layer: layer, cache: cache, heads: h) }
        let group = h / g, scale = 1 / Float(d).squareRoot(), chunks = d / 16
        var out = Tensor.zeros([rows.count, h * d])
        let work = rows.reduce(0) { $0 + $1.position + 1 } * h * d
        let (sources, shared) = (cache.sources, cache.sharedPositions)
        // Floats between value chunks of one (layer, slot, head).
        let valueStride = KVCache.blockedCapacity(cache.capacity) * 16
        // Rows in the order of the slot their shared positions live in (stable: ties keep row order).
        let order = cache.hasSharedSlots ? rows.indices.sorted { (sources[rows[$0].slot], $0) < (sources[rows[$1].slot], $1) } : Array(rows.indices)
        q.withUnsafeBufferPointer { pq in out.withUnsafeMutableBufferPointer { po in
            let (qb, ob) = (pq.baseAddress!, po.baseAddress!)
            let tasks = rows.count * g
            Threading.parallelFor(tasks, minimumPerChunk: max(1, tasks * 65_536 / max(1, work))) { start, end in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: group * cache.capacity)
                defer { scores.deallocate() }
                for task in start..<end {
                    let (r, kv) = (order[task / g], task % g)
                    let row = rows[r], n = row.position + 1
                    // Positions below `split` are read from the source slot's storage.
                    let split = min(n, shared[row.slot])
                    let keys = cache.keyBase(layer: layer, slot: row.slot, head: kv)
                    let values = cache.valueBase(layer: layer, slot: row.slot, head: kv)
                    let sharedKeys = cache.keyBase(layer: layer, slot: sources[row.slot], head: kv)
                    let sharedValues = cache.valueBase(layer: layer, slot: sources[row.slot], head: kv)
                    let q0 = qb + (r * h + kv * group) * d, o0 = ob + (r * h + kv * group) * d
                    // Scores (group, n), 16 positions at a time: each block of keys (D, 16) read once for
                    // all heads of the group, one SIMD16 multiply-add per dimension and head.
                    var j0 = 0
                    while j0 < n {
                        let block = (j0 < split ? sharedKeys : keys) + j0 * d
                        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
                        var s4 = SIMD16<Float>(), s5 = SIMD16<Float>(), s6 = SIMD16<Float>(), s7 = SIMD16<Float>()
                        for i in 0..<d {
                            let k = Kernels.load(block + i * 16)
                            s0 = s0.addingProduct(k, SIMD16(repeating: q0[i]))
                            if group > 1 { s1 = s1.addingProduct(k, SIMD16(repeating: q0[d + i])) }
                            if group > 2 { s2 = s2.addingProduct(k, SIMD16(repeating: q0[2 * d + i])) }
                            if group > 3 { s3 = s3.addingProduct(k, SIMD16(repeating: q0[3 * d + i])) }
                            if group > 4 { s4 = s4.addingProduct(k, SIMD16(repeating: q0[4 * d + i])) }
                            if group > 5 { s5 = s5.addingProduct(k, SIMD16(repeating: q0[5 * d + i])) }
                            if group > 6 { s6 = s6.addingProduct(k, SIMD16(repeating: q0[6 * d + i])) }
                            if group > 7 { s7 = s7.addingProduct(k, SIMD16(repeating: q0[7 * d + i])) }
                        }
                        let m = min(16, n - j0)
                        func put(_ v: SIMD16<Float>, _ a: Int) {
                            if m == 16 { Kernels.store(v * scale, scores + a * n + j0) } else { for t in 0..<m { scores[a * n + j0 + t] = v[t] * scale } }
                        }
                        put(s0, 0)
                        if group > 1 { put(s1, 1) }
                        if group > 2 { put(s2, 2) }
                        if group > 3 { put(s3, 3) }
                        if group > 4 { put(s4, 4) }
                        if group > 5 { put(s5, 5) }
                        if group > 6 { put(s6, 6) }
                        if group > 7 { put(s7, 7) }
                        j0 += 16
                    }
                    for a in 0..<group { Kernels.softmax(scores + a * n, n) }
                    // Outputs (group, D) = scores · values, one 16-dimension chunk at a time: the chunk of
                    // every position is contiguous (KVCache.valueIndex), read once for all heads of the
                    // group; even and odd positions go to two accumulator sets (twice the independent FMAs).
                    for c in 0..<chunks {
                        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
                        var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
                        var b4 = SIMD16<Float>(), b5 = SIMD16<Float>(), b6 = SIMD16<Float>(), b7 = SIMD16<Float>()
                        // Shared positions 0..<split (a multiple of 16, so the even/odd pairing is the same
                        // as for a copy) from the source slot, the rest from the slot's own storage.
                        var segment = 0
                        while segment < 2 {
                            let (slotValues, lo, hi) = segment == 0 ? (sharedValues, 0, split) : (values, split, n)
                            let base = slotValues + c * valueStride
                            var j = lo
                            while j + 2 <= hi {
                                let v = Kernels.load(base + j * 16), u = Kernels.load(base + j * 16 + 16)
                                a0 = a0.addingProduct(v, SIMD16(repeating: scores[j])); b0 = b0.addingProduct(u, SIMD16(repeating: scores[j + 1]))
                                if group > 1 { a1 = a1.addingProduct(v, SIMD16(repeating: scores[n + j])); b1 = b1.addingProduct(u, SIMD16(repeating: scores[n + j + 1])) }
                                if group > 2 { a2 = a2.addingProduct(v, SIMD16(repeating: scores[2 * n + j])); b2 = b2.addingProduct(u, SIMD16(repeating: scores[2 * n + j + 1])) }
                                if group > 3 { a3 = a3.addingProduct(v, SIMD16(repeating: scores[3 * n + j])); b3 = b3.addingProduct(u, SIMD16(repeating: scores[3 * n + j + 1])) }
                                if group > 4 { a4 = a4.addingProduct(v, SIMD16(repeating: scores[4 * n + j])); b4 = b4.addingProduct(u, SIMD16(repeating: scores[4 * n + j + 1])) }
                                if group > 5 { a5 = a5.addingProduct(v, SIMD16(repeating: scores[5 * n + j])); b5 = b5.addingProduct(u, SIMD16(repeating: scores[5 * n + j + 1])) }
                                if group > 6 { a6 = a6.addingProduct(v, SIMD16(repeating: scores[6 * n + j])); b6 = b6.addingProduct(u, SIMD16(repeating: scores[6 * n + j + 1])) }
                                if group > 7 { a7 = a7.addingProduct(v, SIMD16(repeating: scores[7 * n + j])); b7 = b7.addingProduct(u, SIMD16(repeating: scores[7 * n + j + 1])) }
                                j += 2
                            }
                            if j < hi {
                                let v = Kernels.load(base + j * 16)
                                a0 = a0.addingProduct(v, SIMD16(repeating: scores[j]))
                                if group > 1 { a1 = a1.addingProduct(v, SIMD16(repeating: scores[n + j])) }
                                if group > 2 { a2 = a2.addingProduct(v, SIMD16(repeating: scores[2 * n + j])) }
                                if group > 3 { a3 = a3.addingProduct(v, SIMD16(repeating: scores[3 * n + j])) }
                                if group > 4 { a4 = a4.addingProduct(v, SIMD16(repeating: scores[4 * n + j])) }
                                if group > 5 { a5 = a5.addingProduct(v, SIMD16(repeating: scores[5 * n + j])) }
                                if group > 6 { a6 = a6.addingProduct(v, SIMD16(repeating: scores[6 * n + j])) }
                                if group > 7 { a7 = a7.addingProduct(v, SIMD16(repeating: scores[7 * n + j])) }
                            }
                            segment += 1
                        }
                        a0 += b0; a1 += b1; a2 += b2; a3 += b3; a4 += b4; a5 += b5; a6 += b6; a7 += b7
                        let oc = o0 + 16 * c
                        Kernels.store(a0, oc)
                        if group > 1 { Kernels.store(a1, oc + d) }
                        if group > 2 { Kernels.store(a2, oc + 2 * d) }
                        if group > 3 { Kernels.store(a3, oc + 3 * d) }
                        if group > 4 { Kernels.store(a4, oc + 4 * d) }
                        if group > 5 { Kernels.store(a5, oc + 5 * d) }
                        if group > 6 { Kernels.store(a6, oc + 6 * d) }
                        if group > 7 { Kernels.store(a7, oc + 7 * d) }
                    }
                }
            }
        } }
        return out
    }

    /// Reference twin of `attend`: one query head at a time, scalar loops per key.
    func attendReference(_ q: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache, heads h: Int) -> Tensor {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        let group = h / g, scale = 1 / Float(d).squareRoot()
        var out = Tensor.zeros([rows.count, h * d])
        var scores = [Float](repeating: 0, count: cache.capacity)
        q.withUnsafeBufferPointer { pq in out.withUnsafeMutableBufferPointer { po in scores.withUnsafeMutableBufferPointer { ps in
            for (r, row) in rows.enumerated() {
                for head in 0..<h {
                    let n = row.position + 1
                    let kv = head / group
                    let qr = pq.baseAddress! + (r * h + head) * d, o = po.baseAddress! + (r * h + head) * d
                    for j in 0..<n {
                        var dot = 0.0
                        for i in 0..<d { dot += Double(qr[i]) * Double(cache.key(layer: layer, slot: row.slot, head: kv, position: j, i)) }
                        ps[j] = Float(dot) * scale
                    }
                    Kernels.softmaxRowsReference(ps.baseAddress!, rows: 1, columns: n)
                    for j in 0..<n { for i in 0..<d { o[i] += ps[j] * cache.value(layer: layer, slot: row.slot, head: kv, position: j, i) } }
                }
            }
        } } }
        return out
    }
}
