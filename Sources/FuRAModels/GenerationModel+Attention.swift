import FuRAFormats
import FuRATensor

// Legend: N rows (new tokens of all sequences of one step, packed), H query heads, G key/value heads,
// D head dim, P cache capacity.

/// Rotary embedding, cache writes and causal attention of the generation forward.
extension GenerationModel {
    /// Rotates rows (N, heads·D) in place, row r at its own position (HF rotate-half convention).
    func rotate(_ x: inout Tensor, rows: [(slot: Int, position: Int)], heads: Int) {
        let d = model.config.headDim, half = d / 2
        x.withUnsafeMutableBufferPointer { px in cosTable.withUnsafeBufferPointer { pc in sinTable.withUnsafeBufferPointer { ps in
            for (r, row) in rows.enumerated() {
                let c = pc.baseAddress! + row.position * half, s = ps.baseAddress! + row.position * half
                for head in 0..<heads {
                    let v = px.baseAddress! + (r * heads + head) * d
                    if precision == .llamaCpp {
                        // ggml's rotation (HF's pair (i, i + D/2) is llama.cpp's adjacent pair of the permuted rows).
                        for i in 0..<half { (v[i], v[i + half]) = GGMLElementwise.rotate(v[i], v[i + half], cos: c[i], sin: s[i]) }
                    } else {
                        Self.rotateHead(v, into: v, cos: c, sin: s, half: half)
                    }
                }
            }
        } } }
    }

    /// One head (D) rotated by the angles of one position: cos and sin (D/2); `into` may be `v` itself.
    @inline(__always)
    static func rotateHead(_ v: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, cos c: UnsafePointer<Float>,
                           sin s: UnsafePointer<Float>, half: Int) {
        for i in 0..<half {
            let a = v[i], b = v[i + half]
            out[i] = a * c[i] - b * s[i]
            out[i + half] = b * c[i] + a * s[i]
        }
    }

    /// Whether `attend` takes its vectorized path for `heads` query heads over `cache`.
    func attendsFast(heads h: Int, cache: KVCache) -> Bool {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        return d % 16 == 0 && h % g == 0 && h / g <= 8
    }

    /// Writes keys and values (N, G·D) of each row at its (slot, position) of `layer`.
    func store(_ k: Tensor, _ v: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache) {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
            for (r, row) in rows.enumerated() {
                for head in 0..<g {
                    // SAFETY: position < capacity was checked by `plan`; each copy is D floats of one row.
                    let src = pk.baseAddress! + (r * g + head) * d, vs = pv.baseAddress! + (r * g + head) * d
                    if cache.precision == .float16 {
                        Self.write(src, vs, Float16.self, slot: row.slot, position: row.position, layer: layer, head: head, cache: cache)
                    } else {
                        Self.write(src, vs, Float.self, slot: row.slot, position: row.position, layer: layer, head: head, cache: cache)
                    }
                }
            }
        } }
    }

    /// Writes one key and value (D each) at (layer, slot, head, position), rounded to E.
    @inline(__always)
    static func write<E: KVCacheElement>(_ key: UnsafePointer<Float>, _ value: UnsafePointer<Float>, _ type: E.Type, slot: Int, position: Int,
                                         layer: Int, head: Int, cache: KVCache) {
        let (keys, values) = (cache.keyBase(E.self, layer: layer, slot: slot, head: head), cache.valueBase(E.self, layer: layer, slot: slot, head: head))
        for i in 0..<cache.headDim {
            keys[cache.keyIndex(position, i)] = E(key[i])
            values[cache.valueIndex(position, i)] = E(value[i])
        }
    }

    /// Causal attention of q (N, H·D) over each row's own slot, positions 0...position → (N, H·D);
    /// on a sliding-window layer only the last `window` positions get weight (the others get 0). Scores
    /// use the layer's scale.
    ///
    /// One task per (row, key/value head): the H/G query heads that share the head's keys read each
    /// key and value once, as SIMD16 vectors (D a multiple of 16; other D use `attendReference`).
    /// Rows whose slots read shared positions from one slot (`KVCache.shareSlot`) run back to back,
    /// so those keys and values come from cache rather than memory.
    ///
    /// `newKeys` (a decode step, each slot in at most one row): q and the rows' keys k (N, G·D) are not
    /// yet rotated and k, v (N, G·D) not yet stored; each task rotates and stores its own row's key and
    /// value and rotates its query heads first (the same arithmetic as `rotate` and `store`).
    func attend(_ q: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache, heads h: Int,
                newKeys: (k: Tensor, v: Tensor)? = nil) -> Tensor {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        guard attendsFast(heads: h, cache: cache) else {
            guard let newKeys else { return attendReference(q, rows: rows, layer: layer, cache: cache, heads: h) }
            var (q, k) = (q, newKeys.k)
            rotate(&q, rows: rows, heads: h)
            rotate(&k, rows: rows, heads: g)
            store(k, newKeys.v, rows: rows, layer: layer, cache: cache)
            return attendReference(q, rows: rows, layer: layer, cache: cache, heads: h)
        }
        let attention = model.blocks[layer].attention
        let group = h / g, scale = attention.scale, window = attention.window, half = d / 2
        let empty = Tensor.zeros([0])
        let (newK, newV) = (newKeys?.k ?? empty, newKeys?.v ?? empty)
        var out = Tensor.zeros([rows.count, h * d])
        let work = rows.reduce(0) { $0 + $1.position + 1 } * h * d
        let (sources, shared) = (cache.sources, cache.sharedPositions)
        // Floats between value chunks of one (layer, slot, head).
        let valueStride = KVCache.blockedCapacity(cache.capacity) * 16
        // Rows in the order of the slot their shared positions live in (stable: ties keep row order).
        let order = cache.hasSharedSlots ? rows.indices.sorted { (sources[rows[$0].slot], $0) < (sources[rows[$1].slot], $1) } : Array(rows.indices)
        // The tasks for keys and values stored as E (f32 or f16).
        func run<E: KVCacheElement>(_: E.Type) {
        q.withUnsafeBufferPointer { pq in out.withUnsafeMutableBufferPointer { po in
        newK.withUnsafeBufferPointer { pk in newV.withUnsafeBufferPointer { pv in
        cosTable.withUnsafeBufferPointer { pc in sinTable.withUnsafeBufferPointer { ps in
            let (qb, ob) = (pq.baseAddress!, po.baseAddress!)
            let tasks = rows.count * g
            Threading.parallelFor(tasks, minimumPerChunk: max(1, tasks * 65_536 / max(1, work))) { start, end in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: group * cache.capacity)
                let rotated = UnsafeMutablePointer<Float>.allocate(capacity: max(group, 1) * d)
                defer { scores.deallocate(); rotated.deallocate() }
                for task in start..<end {
                    let (r, kv) = (order[task / g], task % g)
                    let row = rows[r], n = row.position + 1
                    var q0 = qb + (r * h + kv * group) * d
                    if newKeys != nil {
                        // SAFETY: this task alone writes (slot, kv, position): one row per slot, and shared
                        // positions lie below every written position (KVCache.prepareWrite).
                        let c = pc.baseAddress! + row.position * half, s = ps.baseAddress! + row.position * half
                        Self.rotateHead(pk.baseAddress! + (r * g + kv) * d, into: rotated, cos: c, sin: s, half: half)
                        Self.write(rotated, pv.baseAddress! + (r * g + kv) * d, E.self, slot: row.slot, position: row.position,
                                   layer: layer, head: kv, cache: cache)
                        for a in 0..<group { Self.rotateHead(q0 + a * d, into: rotated + a * d, cos: c, sin: s, half: half) }
                        q0 = UnsafePointer(rotated)
                    }
                    // Positions below `split` are read from the source slot's storage.
                    let split = min(n, shared[row.slot])
                    let keys = UnsafePointer(cache.keyBase(E.self, layer: layer, slot: row.slot, head: kv))
                    let values = UnsafePointer(cache.valueBase(E.self, layer: layer, slot: row.slot, head: kv))
                    let sharedKeys = UnsafePointer(cache.keyBase(E.self, layer: layer, slot: sources[row.slot], head: kv))
                    let sharedValues = UnsafePointer(cache.valueBase(E.self, layer: layer, slot: sources[row.slot], head: kv))
                    let o0 = ob + (r * h + kv * group) * d
                    GroupedAttention.scores(q: q0, group: group, d: d, n: n, split: split, keys: keys, sharedKeys: sharedKeys,
                                            scale: scale, into: scores)
                    let first = window.map { max(0, n - $0) } ?? 0
                    for a in 0..<group {
                        Kernels.softmax(scores + a * n + first, n - first)
                        (scores + a * n).update(repeating: 0, count: first)
                    }
                    GroupedAttention.weightedValues(scores: scores, group: group, d: d, n: n, split: split, values: values,
                                                    sharedValues: sharedValues, valueStride: valueStride, into: o0)
                }
            }
        } } } } } }
        }
        if cache.precision == .float16 { run(Float16.self) } else { run(Float.self) }
        return out
    }

    /// Reference twin of `attend`: one query head at a time, scalar loops per key.
    func attendReference(_ q: Tensor, rows: [(slot: Int, position: Int)], layer: Int, cache: KVCache, heads h: Int) -> Tensor {
        let (g, d) = (cache.keyValueHeads, cache.headDim)
        let attention = model.blocks[layer].attention
        let group = h / g, scale = attention.scale, window = attention.window
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
                    let first = window.map { max(0, n - $0) } ?? 0
                    Kernels.softmaxRowsReference(ps.baseAddress! + first, rows: 1, columns: n - first)
                    (ps.baseAddress!).update(repeating: 0, count: first)
                    for j in 0..<n { for i in 0..<d { o[i] += ps[j] * cache.value(layer: layer, slot: row.slot, head: kv, position: j, i) } }
                }
            }
        } } }
        return out
    }
}
