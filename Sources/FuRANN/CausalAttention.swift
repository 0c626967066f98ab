import FuRATensor

// Legend: B sequences, Tq query positions, Tk key positions (past + new), H query heads,
// G key/value heads (H/G query heads share one), D head dim.

/// Scaled dot-product attention with grouped-query heads, a causal mask and a right-padding mask.
///
/// Query i of sequence b sees key j iff j ≤ queryOffset + i and j < keyLengths[b]; both masks
/// together leave a prefix of the keys, so the softmax runs over that prefix. `queryOffset` is the
/// number of cached past positions (0 in training); keys and values include the past. With a sliding
/// `window` W, query i also sees only the W most recent keys: j > queryOffset + i − W (Gemma's local layers).
/// Scores are q·k times `scale` (1/√D by default; Gemma's query_pre_attn_scalar^−½).
/// Work is split over (sequence, head) with BLAS single-threaded inside.
public final class CausalAttention {
    public let heads: Int
    public let keyValueHeads: Int
    public let headDim: Int
    /// The factor on q·k.
    public let scale: Float
    /// Keys per query of a sliding-window layer; nil attends to every past key.
    public let window: Int?
    /// What the last forward kept for the backward: q, k, v and each (sequence, head, query row)'s softmax
    /// max and 1/Σexp (`rowStatistics`, B·H·Tq pairs), from which the backward recomputes P.
    private var cache: (q: Tensor, k: Tensor, v: Tensor, rowStatistics: [Float], batch: Int, tq: Int, tk: Int,
                        offset: Int, keyLengths: [Int])?
    /// Query rows per block of the blocked causal products (a tuning knob; any value ≥ 1 gives the same result).
    public var blockRows = 64

    public init(heads: Int, keyValueHeads: Int, headDim: Int, scale: Float? = nil, window: Int? = nil) throws {
        guard heads > 0, keyValueHeads > 0, heads % keyValueHeads == 0, headDim > 0 else {
            throw LayerError.invalidOption(layer: "CausalAttention", option: "heads/key_value_heads", value: "\(heads)/\(keyValueHeads)",
                                           reason: "key/value heads must divide query heads")
        }
        if let window, window < 1 {
            throw LayerError.invalidOption(layer: "CausalAttention", option: "sliding_window", value: "\(window)", reason: "must be at least 1")
        }
        self.heads = heads; self.keyValueHeads = keyValueHeads; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
        self.window = window
    }

    /// The first key query i sees (0 without a window); keys before it get probability 0.
    @inline(__always) static func firstVisible(_ i: Int, offset: Int, window: Int?) -> Int {
        window.map { max(0, offset + i + 1 - $0) } ?? 0
    }

    /// The length of the visible key prefix for query i of a sequence of `length` keys.
    @inline(__always) static func visible(_ i: Int, offset: Int, length: Int, tk: Int) -> Int {
        min(offset + i + 1, length, tk)
    }

    /// q (B, Tq, H, D), k and v (B, Tk, G, D) → out (B, Tq, H, D).
    /// - Parameters: `keyLengths`: B real key counts (≤ Tk); `queryOffset`: Tk − Tq by default.
    public func forward(q: Tensor, k: Tensor, v: Tensor, batch: Int, keyLengths: [Int], queryOffset: Int? = nil,
                        keepForBackward: Bool) throws -> Tensor {
        let (h, g, d) = (heads, keyValueHeads, headDim)
        guard batch > 0, q.count % (batch * h * d) == 0, k.count % (batch * g * d) == 0, k.count == v.count else {
            throw LayerError.badInput(layer: "CausalAttention", expected: "q (B, Tq, \(h), \(d)), k/v (B, Tk, \(g), \(d))", actual: q.shape + k.shape)
        }
        let tq = q.count / (batch * h * d), tk = k.count / (batch * g * d)
        let offset = queryOffset ?? (tk - tq)
        guard keyLengths.count == batch, keyLengths.allSatisfy({ $0 >= 0 && $0 <= tk }), offset >= 0 else {
            throw LayerError.badInput(layer: "CausalAttention", expected: "\(batch) key lengths in 0...\(tk)", actual: keyLengths)
        }
        let window = self.window
        var rowStatistics = [Float](repeating: 0, count: keepForBackward ? batch * h * tq * 2 : 0)
        var out = Tensor.zeros([batch * tq, h * d])
        q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
        rowStatistics.withUnsafeMutableBufferPointer { pst in out.withUnsafeMutableBufferPointer { po in
            let (qb, kb, vb, ob) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, po.baseAddress!)
            let statistics = keepForBackward ? pst.baseAddress : nil   // an empty array may still have an address
            let blockRows = max(1, min(self.blockRows, tq))
            Threading.parallelFor(batch * h) { start, end in
                var block = [Float](repeating: 0, count: max(1, blockRows * tk))
                block.withUnsafeMutableBufferPointer { pblock in
                    let p = pblock.baseAddress!
                    for task in start..<end {
                        let (b, head) = (task / h, task % h)
                        let kv = head / (h / g)
                        let qPtr = qb + b * tq * h * d + head * d
                        let kPtr = kb + b * tk * g * d + kv * d, vPtr = vb + b * tk * g * d + kv * d
                        // Blocks of query rows only touch the keys their last row can see (the causal
                        // mask leaves a prefix), so the work above the diagonal is mostly skipped.
                        var i0 = 0
                        while i0 < tq {
                            let i1 = min(tq, i0 + blockRows)
                            let keys = self.probabilities(p, task: task, rows: i0..<i1, q: qPtr, k: kPtr, offset: offset,
                                                          length: keyLengths[b], tq: tq, tk: tk, window: window, saving: statistics)
                            // O = P·V for the block, into the head's columns.
                            BLAS.gemm(transposeA: false, transposeB: false, m: i1 - i0, n: d, k: keys,
                                      a: p, lda: tk, b: vPtr, ldb: g * d, c: ob + (b * tq + i0) * h * d + head * d, ldc: h * d)
                            i0 = i1
                        }
                    }
                }
            }
        } } } } }
        cache = keepForBackward ? (q, k, v, rowStatistics, batch, tq, tk, offset, keyLengths) : nil
        return out
    }

    /// The attention probabilities of query rows `rows` of one (sequence, head) `task` over the keys the
    /// block's last row can see, into `p` (rows × keys, leading dimension tk; masked keys 0), and that key
    /// count. S = Q·Kᵀ·scale, then the masked softmax of each row. With `saving`, each row's max and
    /// 1/Σexp are written there; with `reading`, they are read instead of computed, which makes the same
    /// probabilities bit for bit from the same S (the backward recomputes P so that the forward keeps
    /// 2 numbers per row instead of Tk: O(T) memory instead of O(T²), as flash attention).
    @inline(__always)
    func probabilities(_ p: UnsafeMutablePointer<Float>, task: Int, rows: Range<Int>, q qPtr: UnsafePointer<Float>,
                       k kPtr: UnsafePointer<Float>, offset: Int, length: Int, tq: Int, tk: Int, window: Int?,
                       saving: UnsafeMutablePointer<Float>? = nil, reading: UnsafePointer<Float>? = nil) -> Int {
        let (h, g, d) = (heads, keyValueHeads, headDim)
        let keys = Self.visible(rows.upperBound - 1, offset: offset, length: length, tk: tk)
        BLAS.gemm(transposeA: false, transposeB: true, m: rows.count, n: keys, k: d, alpha: scale,
                  a: qPtr + rows.lowerBound * h * d, lda: h * d, b: kPtr, ldb: g * d, c: p, ldc: tk)
        for i in rows {
            let row = p + (i - rows.lowerBound) * tk
            let n = min(keys, Self.visible(i, offset: offset, length: length, tk: tk))
            let first = min(n, Self.firstVisible(i, offset: offset, window: window))
            let slot = 2 * (task * tq + i)
            if n > first {
                let shift = reading.map { $0[slot] } ?? Kernels.max(row + first, n - first)
                let total = Kernels.expShiftedSum(row + first, n - first, shift: shift)
                let inverse = reading.map { $0[slot + 1] } ?? 1 / total
                Kernels.scale(row + first, inverse, n - first)
                if let saving { saving[slot] = shift; saving[slot + 1] = inverse }
            }
            if first > 0 { row.update(repeating: 0, count: first) }
            if n < keys { (row + n).update(repeating: 0, count: keys - n) }
        }
        return keys
    }

    /// dOut (B, Tq, H, D) → (dQ (B, Tq, H, D), dK (B, Tk, G, D), dV (B, Tk, G, D)).
    ///
    /// P is recomputed block by block from q, k and the kept row statistics (the forward's exact values);
    /// then dP = dO·Vᵀ, dV = Pᵀ·dO, dS = P ⊙ (dP − rowsum(P ⊙ dP)), dQ = dS·K·scale, dK = dSᵀ·Q·scale
    /// (keys outside the window have P = 0, so dS = 0 there).
    public func backward(_ dOut: Tensor) throws -> (dQ: Tensor, dK: Tensor, dV: Tensor) {
        guard let c = cache else { throw LayerError.noForwardCache(layer: "CausalAttention") }
        let (h, g, d, batch, tq, tk) = (heads, keyValueHeads, headDim, c.batch, c.tq, c.tk)
        guard dOut.count == batch * tq * h * d else {
            throw LayerError.badInput(layer: "CausalAttention backward", expected: "(\(batch), \(tq), \(h), \(d))", actual: dOut.shape)
        }
        var dQ = Tensor.zeros(c.q.shape), dK = Tensor.zeros(c.k.shape), dV = Tensor.zeros(c.v.shape)
        let (group, scale, window) = (h / g, self.scale, self.window)
        c.q.withUnsafeBufferPointer { pq in c.k.withUnsafeBufferPointer { pk in c.v.withUnsafeBufferPointer { pv in
        c.rowStatistics.withUnsafeBufferPointer { pst in dOut.withUnsafeBufferPointer { pdo in
        dQ.withUnsafeMutableBufferPointer { pdq in dK.withUnsafeMutableBufferPointer { pdk in dV.withUnsafeMutableBufferPointer { pdv in
            let (qb, kb, vb, statistics, dob) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, pst.baseAddress!, pdo.baseAddress!)
            let (dqb, dkb, dvb) = (pdq.baseAddress!, pdk.baseAddress!, pdv.baseAddress!)
            // One task per (sequence, key/value head): its query heads write the same dK, dV slices.
            let blockRows = max(1, min(self.blockRows, tq))
            Threading.parallelFor(batch * g) { start, end in
                var buffers = [Float](repeating: 0, count: max(2, 2 * blockRows * tk))
                buffers.withUnsafeMutableBufferPointer { pbuf in
                    let (pBlock, dsBlock) = (pbuf.baseAddress!, pbuf.baseAddress! + blockRows * tk)
                    for task in start..<end {
                        let (b, kv) = (task / g, task % g)
                        let kOff = b * tk * g * d + kv * d
                        for head in (kv * group)..<((kv + 1) * group) {
                            let qOff = b * tq * h * d + head * d
                            var i0 = 0
                            while i0 < tq {
                                let i1 = min(tq, i0 + blockRows), rows = i1 - i0
                                let keys = self.probabilities(pBlock, task: b * h + head, rows: i0..<i1, q: qb + qOff, k: kb + kOff,
                                                              offset: c.offset, length: c.keyLengths[b], tq: tq, tk: tk,
                                                              window: window, reading: statistics)
                                let (qBlock, doBlock, dqBlock) = (qOff + i0 * h * d, dob + qOff + i0 * h * d, dqb + qOff + i0 * h * d)
                                BLAS.gemm(transposeA: false, transposeB: true, m: rows, n: keys, k: d,
                                          a: doBlock, lda: h * d, b: vb + kOff, ldb: g * d, c: dsBlock, ldc: tk)
                                BLAS.gemm(transposeA: true, transposeB: false, m: keys, n: d, k: rows,
                                          a: pBlock, lda: tk, b: doBlock, ldb: h * d, beta: 1, c: dvb + kOff, ldc: g * d)
                                for i in 0..<rows {
                                    let pr = pBlock + i * tk, dr = dsBlock + i * tk
                                    let dot = Kernels.dot(pr, dr, keys)
                                    for j in 0..<keys { dr[j] = pr[j] * (dr[j] - dot) }
                                }
                                BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: d, k: keys, alpha: scale,
                                          a: dsBlock, lda: tk, b: kb + kOff, ldb: g * d, c: dqBlock, ldc: h * d)
                                BLAS.gemm(transposeA: true, transposeB: false, m: keys, n: d, k: rows, alpha: scale,
                                          a: dsBlock, lda: tk, b: qb + qBlock, ldb: h * d, beta: 1, c: dkb + kOff, ldc: g * d)
                                i0 = i1
                            }
                        }
                    }
                }
            }
        } } } } } } } }
        return (dQ, dK, dV)
    }

    /// Frees what the last forward kept.
    public func releaseForwardCache() { cache = nil }
}
