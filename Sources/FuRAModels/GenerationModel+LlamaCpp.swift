import Foundation
import FuRAFormats
import FuRANN
import FuRATensor

// Legend: N rows (new tokens of all sequences of one step, packed), C model dim, H query heads,
// G key/value heads, D head dim.

/// The generation forward in llama.cpp's arithmetic (`GenerationWeightPrecision.llamaCpp`): a Llama-family
/// layer as llama.cpp's x86-64 CPU backend computes it with its default context (f16 cache, flash attention):
/// RMS norms, rope and SwiGLU from `GGMLElementwise`, the file's blocks multiplied by `GGMLBlockMatrix`, and
/// the attention below. Each step was checked value for value against llama.cpp's own tensors.
extension GenerationModel {
    /// Refuses models whose layers hold parts this path does not reproduce.
    static func checkLlamaCppArithmetic(_ model: CausalLM) throws {
        func refuse(_ what: String) -> GenerationError {
            .invalidOption(option: "precision", value: GenerationWeightPrecision.llamaCpp.rawValue,
                           reason: "reproduces llama.cpp for Llama-family layers only; this model has \(what) (use f32 or gguf)")
        }
        for block in model.blocks {
            if block.qNorm != nil || block.kNorm != nil { throw refuse("q/k norms") }
            if block.attentionOutputNorm != nil || block.mlpOutputNorm != nil { throw refuse("sandwich norms") }
            if block.inputNorm.form != .weight || block.postAttentionNorm.form != .weight { throw refuse("1 + w norms") }
            if block.mlp.activation != .silu { throw refuse("a \(block.mlp.activation.rawValue) MLP") }
            if block.attention.window != nil { throw refuse("sliding-window attention") }
            if block.rope.scaling != nil { throw refuse("Llama 3 rope scaling given as such") }
            let biased = [block.qProj, block.kProj, block.vProj, block.oProj].contains { ($0 as? DenseLinear)?.bias != nil }
            if biased { throw refuse("projection biases") }
        }
        if model.finalNorm.form != .weight { throw refuse("a 1 + w final norm") }
    }

    /// Rope tables as `ggml_rope_cache_init` makes them.
    static func llamaCppRopeTables(_ rope: RotaryEmbedding, positions: Int) -> (cos: [Float], sin: [Float]) {
        GGMLElementwise.ropeTables(positions: positions, headDim: rope.headDim, theta: Float(rope.theta),
                                   divisors: rope.frequencyDivisors?.map { Float($0) })
    }

    /// x (N, C) through `norm` as `ggml_rms_norm` then `ggml_mul`.
    static func rmsNormLikeLlamaCpp(_ x: Tensor, _ norm: RMSNorm) -> Tensor {
        let w = norm.weight.value.storage
        return x.withUnsafeBufferPointer { px in
            Tensor.filled(x.shape) { GGMLElementwise.rmsNorm(px.baseAddress!, rows: x.count / max(1, w.count), weight: w, epsilon: norm.epsilon, into: $0) }
        }
    }

    /// One decoder layer over packed rows x (N, C) → (N, C) in llama.cpp's arithmetic, writing its keys and
    /// values into the cache.
    func blockLikeLlamaCpp(_ block: DecoderBlock, _ p: (qkv: GenerationProjectionGroup, o: GenerationProjection, gateUp: GenerationProjectionGroup, down: GenerationProjection),
                           _ x: Tensor, rows: [(slot: Int, position: Int)], cache: KVCache) throws -> Tensor {
        let (h, g) = (block.attention.heads, block.attention.keyValueHeads)
        activeRope = ropeOfBlock[block.index]
        let qkv = try p.qkv.apply(Self.rmsNormLikeLlamaCpp(x, block.inputNorm))
        var (q, k) = (qkv[0], qkv[1])
        rotateLikeLlamaCpp(&q, rows: rows, heads: h)
        rotateLikeLlamaCpp(&k, rows: rows, heads: g)
        store(k, qkv[2], rows: rows, layer: block.index, cache: cache)
        var x2 = try p.o.apply(attendLikeLlamaCpp(q, rows: rows, layer: block.index, cache: cache, heads: h))
        try x2.add(x)
        let gateUp = try p.gateUp.apply(Self.rmsNormLikeLlamaCpp(x2, block.postAttentionNorm))
        var act = gateUp[0]
        act.withUnsafeMutableBufferPointer { pa in gateUp[1].withUnsafeBufferPointer { pu in
            GGMLElementwise.swiglu(pa.baseAddress!, up: pu.baseAddress!, count: pa.count)
        } }
        var y = try p.down.apply(act)
        try y.add(x2)
        return y
    }

    /// Rotates rows (N, heads·D) in place like `rotate`, each pair as `GGMLElementwise.rotate` (HF's pair
    /// (i, i + D/2) is llama.cpp's adjacent pair of the permuted GGUF rows).
    func rotateLikeLlamaCpp(_ x: inout Tensor, rows: [(slot: Int, position: Int)], heads: Int) {
        let d = model.config.headDim, half = d / 2
        x.withUnsafeMutableBufferPointer { px in cosTable.withUnsafeBufferPointer { pc in sinTable.withUnsafeBufferPointer { ps in
            for (r, row) in rows.enumerated() {
                for head in 0..<heads {
                    let v = px.baseAddress! + (r * heads + head) * d
                    for i in 0..<half {
                        (v[i], v[i + half]) = GGMLElementwise.rotate(v[i], v[i + half], cos: pc[row.position * half + i], sin: ps[row.position * half + i])
                    }
                }
            }
        } } }
    }

    /// Where element i of an HF-ordered q or k head of D lies in llama.cpp's permuted rows.
    @inline(__always)
    static func ggufIndex(_ i: Int, _ d: Int) -> Int { 2 * (i % (d / 2)) + i / (d / 2) }

    /// Causal attention of q (N, H·D) as llama.cpp's CPU flash attention with an f16 cache
    /// (`ggml_compute_forward_flash_attn_ext_f16_one_chunk`): q, keys and values rounded to f16; each score
    /// `GGMLElementwise.dotF16` (over the elements in llama.cpp's order) times the scale; an online softmax over the positions in order whose running
    /// sum of weighted values is kept in f16 (rounded after each rescale and each fused add), S = fma(S, ms, vs);
    /// at the end the sum times 1/S.
    func attendLikeLlamaCpp(_ q: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache, heads h: Int) -> Tensor {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        let scale = model.blocks[layer].attention.scale, group = h / g
        var out = Tensor.zeros([rows.count, h * d])
        q.withUnsafeBufferPointer { pq in out.withUnsafeMutableBufferPointer { po in
            let (qb, ob) = (pq.baseAddress!, po.baseAddress!)
            Threading.parallelFor(rows.count * h) { start, end in
                var query = [Float](repeating: 0, count: d), key = query, value = query
                var sum = [Float16](repeating: 0, count: d)
                for task in start..<end {
                    let (r, head) = (task / h, task % h)
                    let row = rows[r], kv = head / group
                    // Scores sum in the GGUF row order, where HF's element s·D/2 + i of a head is element 2i + s.
                    for i in 0..<d { query[Self.ggufIndex(i, d)] = Float(Float16(qb[(r * h + head) * d + i])); sum[i] = 0 }
                    var (best, total) = (-Float.infinity, Float(0))
                    for j in 0...row.position {
                        for i in 0..<d {
                            key[Self.ggufIndex(i, d)] = Float(Float16(cache.key(layer: layer, slot: row.slot, head: kv, position: j, i)))
                            value[i] = Float(Float16(cache.value(layer: layer, slot: row.slot, head: kv, position: j, i)))
                        }
                        let s = GGMLElementwise.dotF16(key, query, count: d) * scale
                        var (rescale, weight): (Float, Float) = (1, 1)
                        if s > best {
                            rescale = Foundation.expf(best - s)
                            best = s
                            for i in 0..<d { sum[i] = Float16(Float(sum[i]) * rescale) }
                        } else {
                            weight = Foundation.expf(s - best)
                        }
                        for i in 0..<d { sum[i] = Float16(Float(sum[i]).addingProduct(value[i], weight)) }
                        total = weight.addingProduct(total, rescale)
                    }
                    let inverse: Float = total == 0 ? 0 : 1 / total
                    for i in 0..<d { ob[(r * h + head) * d + i] = Float(sum[i]) * inverse }
                }
            }
        } }
        return out
    }
}
