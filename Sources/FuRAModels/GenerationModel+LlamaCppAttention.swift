import Foundation
import FuRAFormats
import FuRATensor

// Legend: N rows (new tokens of all sequences of one step, packed), H query heads, G key/value heads, D head dim.

/// The attention of `GenerationWeightPrecision.llamaCpp`: llama.cpp's CPU flash attention over its default f16 cache,
/// the one-chunk path for batches under 64 query rows (decoding) and the tiled path for larger ones (prompts).
extension GenerationModel {
    /// Where element i of an HF-ordered q or k head of D lies in llama.cpp's permuted rows (the packer's row map
    /// for one head).
    @inline(__always)
    static func ggufIndex(_ i: Int, _ d: Int) -> Int { GenerationPacker.fileRow(ofHF: i, rows: d, heads: 1) }

    /// Rotates q (N, H·D) and k, stores k and v, and attends as llama.cpp does for a batch of N rows: its tiled
    /// flash attention from 64 rows (its prompt path), the one-chunk one below that.
    func attendLikeLlamaCpp(_ q: Tensor, _ k: Tensor, _ v: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache, heads h: Int) -> Tensor {
        var (q, k) = (q, k)
        rotate(&q, rows: rows, heads: h)
        rotate(&k, rows: rows, heads: cache.keyValueHeads)
        store(k, v, rows: rows, layer: layer, cache: cache)
        return rows.count >= Self.llamaCppQueryTile ? attendTiledLikeLlamaCpp(q, rows: rows, layer: layer, cache: cache, heads: h)
            : attendOneChunkLikeLlamaCpp(q, rows: rows, layer: layer, cache: cache, heads: h)
    }

    /// Causal attention of q (N, H·D) as llama.cpp's CPU flash attention with an f16 cache
    /// (`ggml_compute_forward_flash_attn_ext_f16_one_chunk`): q, keys and values rounded to f16; each score
    /// `GGMLElementwise.dotF16` (over the elements in llama.cpp's order) times the scale; an online softmax over the positions in order whose running
    /// sum of weighted values is kept in f16 (rounded after each rescale and each fused add), S = fma(S, ms, vs);
    /// at the end the sum times 1/S.
    func attendOneChunkLikeLlamaCpp(_ q: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache, heads h: Int) -> Tensor {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        let scale = model.blocks[layer].attention.scale, group = h / g
        var out = Tensor.zeros([rows.count, h * d])
        q.withUnsafeBufferPointer { pq in out.withUnsafeMutableBufferPointer { po in
            let (qb, ob) = (pq.baseAddress!, po.baseAddress!)
            // One task per (row, key/value head): its keys and values, rounded to f16, read once for the group.
            Threading.parallelFor(rows.count * g) { start, end in
                var keys: [Float] = [], values: [Float] = [], query = [Float](repeating: 0, count: d)
                var sum = [Float16](repeating: 0, count: d)
                for task in start..<end {
                    let (r, kv) = (task / g, task % g)
                    let row = rows[r], n = row.position + 1
                    Self.readLikeLlamaCpp(cache, layer: layer, slot: row.slot, head: kv, count: n, keys: &keys, values: &values)
                    for head in (kv * group)..<((kv + 1) * group) {
                        // Scores sum in the GGUF row order, where HF's element s·D/2 + i of a head is element 2i + s.
                        for i in 0..<d { query[Self.ggufIndex(i, d)] = Float(Float16(qb[(r * h + head) * d + i])); sum[i] = 0 }
                        var (best, total) = (-Float.infinity, Float(0))
                        keys.withUnsafeBufferPointer { pk in values.withUnsafeBufferPointer { pv in
                            for j in 0..<n {
                                let s = GGMLElementwise.dotF16(pk.baseAddress! + j * d, query, count: d) * scale
                                var (rescale, weight): (Float, Float) = (1, 1)
                                if s > best {
                                    rescale = Foundation.expf(best - s)
                                    best = s
                                    for i in 0..<d { sum[i] = Float16(Float(sum[i]) * rescale) }
                                } else {
                                    weight = Foundation.expf(s - best)
                                }
                                let v = pv.baseAddress! + j * d
                                for i in 0..<d { sum[i] = Float16(Float(sum[i]).addingProduct(v[i], weight)) }
                                total = weight.addingProduct(total, rescale)
                            }
                        } }
                        let inverse: Float = total == 0 ? 0 : 1 / total
                        for i in 0..<d { ob[(r * h + head) * d + i] = Float(sum[i]) * inverse }
                    }
                }
            }
        } }
        return out
    }

    /// Query rows from which llama.cpp's flash attention takes its tiled path, and positions per key tile
    /// (`GGML_FA_TILE_Q`, `GGML_FA_TILE_KV`).
    static let llamaCppQueryTile = 64
    static let llamaCppKeyTile = 64

    /// Causal attention of q (N ≥ 64, H·D) as llama.cpp's tiled flash attention
    /// (`ggml_compute_forward_flash_attn_ext_tiled`): q in f32, keys and values rounded to f16; positions in tiles of
    /// 64 from 0; per tile each score a sequential fused sum over the elements (GGUF order) times the scale, the tile's
    /// maximum M' = max(M, tile max) rescaling the f32 running sum and S by expf(M − M') when it grows, weights
    /// `GGMLElementwise.expf`(score − M') whose 16-lane sums add to S in f64, and each value column accumulated by
    /// sequential fused adds over the tile; at the end the sum times 1/S.
    func attendTiledLikeLlamaCpp(_ q: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache, heads h: Int) -> Tensor {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        let scale = model.blocks[layer].attention.scale, group = h / g, tile = Self.llamaCppKeyTile
        var out = Tensor.zeros([rows.count, h * d])
        q.withUnsafeBufferPointer { pq in out.withUnsafeMutableBufferPointer { po in
            let (qb, ob) = (pq.baseAddress!, po.baseAddress!)
            Threading.parallelFor(rows.count * g) { start, end in
                var keys: [Float] = [], values: [Float] = [], query = [Float](repeating: 0, count: d)
                var sum = [Float](repeating: 0, count: d), weights = [Float](repeating: 0, count: tile)
                for task in start..<end {
                    let (r, kv) = (task / g, task % g)
                    let row = rows[r], n = row.position + 1
                    Self.readLikeLlamaCpp(cache, layer: layer, slot: row.slot, head: kv, count: n, keys: &keys, values: &values)
                    for head in (kv * group)..<((kv + 1) * group) {
                        for i in 0..<d { query[Self.ggufIndex(i, d)] = qb[(r * h + head) * d + i]; sum[i] = 0 }
                        var (best, total) = (-Float.infinity, Float(0))
                        for first in stride(from: 0, to: n, by: tile) {
                            let count = min(tile, n - first)
                            var tileMax = -Float.infinity
                            for t in 0..<tile {
                                guard t < count else { weights[t] = -.infinity; continue }
                                var s: Float = 0
                                for i in 0..<d { s = s.addingProduct(keys[(first + t) * d + i], query[i]) }
                                weights[t] = s * scale
                                tileMax = max(tileMax, weights[t])
                            }
                            let newBest = max(best, tileMax)
                            if newBest > best {
                                let rescale = Foundation.expf(best - newBest)
                                for i in 0..<d { sum[i] *= rescale }
                                total *= rescale
                            }
                            best = newBest
                            var tileSum = 0.0
                            for chunk in stride(from: 0, to: tile, by: 16) {
                                var lanes = SIMD16<Float>()
                                for l in 0..<16 {
                                    weights[chunk + l] = GGMLElementwise.expf(weights[chunk + l] - best)
                                    lanes[l] = weights[chunk + l]
                                }
                                tileSum += Double(GGMLElementwise.reduce(lanes))
                            }
                            total = Float(Double(total) + tileSum)
                            for t in 0..<count {
                                for i in 0..<d { sum[i] = sum[i].addingProduct(values[(first + t) * d + i], weights[t]) }
                            }
                        }
                        let inverse: Float = total == 0 ? 0 : 1 / total
                        for i in 0..<d { ob[(r * h + head) * d + i] = sum[i] * inverse }
                    }
                }
            }
        } }
        return out
    }

    /// Keys (in the GGUF element order) and values of positions 0..<count of (layer, slot, head), rounded to f16
    /// as llama.cpp's cache holds them, into `keys` and `values` (count × D each).
    static func readLikeLlamaCpp(_ cache: KVCache, layer: Int, slot: Int, head: Int, count n: Int, keys: inout [Float], values: inout [Float]) {
        let d = cache.headDim
        if keys.count < n * d { keys = [Float](repeating: 0, count: n * d); values = keys }
        func read<E: BinaryFloatingPoint>(_: E.Type) {
            let split = min(n, cache.sharedPositions[slot])
            for (owner, range) in [(cache.sources[slot], 0..<split), (slot, split..<n)] where !range.isEmpty {
                let (k, v) = (cache.keyBase(E.self, layer: layer, slot: owner, head: head), cache.valueBase(E.self, layer: layer, slot: owner, head: head))
                for j in range {
                    for i in 0..<d {
                        keys[j * d + ggufIndex(i, d)] = Float(Float16(Float(k[cache.keyIndex(j, i)])))
                        values[j * d + i] = Float(Float16(Float(v[cache.valueIndex(j, i)])))
                    }
                }
            }
        }
        if cache.precision == .float16 { read(Float16.self) } else { read(Float.self) }
    }
}
