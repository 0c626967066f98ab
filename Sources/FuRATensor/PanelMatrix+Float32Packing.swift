// Legend: O rows of W (output features), I columns of W (input features); panels of 16 rows.

extension PanelMatrix {
    /// Packs W (O, I) as `float32` from its transpose Wᵀ (I, O), row-major: row k of Wᵀ holds, 16 at a time, the
    /// panel entries of column k, so the packing is a copy of 64-byte runs (no transposition).
    ///
    /// For training layers that form a weight as Wᵀ (the BTT forward's W_eff = blockdiag(R')·L) and multiply it
    /// once by many rows.
    public convenience init(transposed wt: Tensor) throws {
        let (i, o) = try wt.dims2("PanelMatrix(transposed:)")
        self.init(rows: o, columns: i, storage: .float32, zeroed: o % Self.panelWidth != 0)
        wt.withUnsafeBufferPointer { storeTransposed($0.baseAddress!) }
    }

    /// Every row of Wᵀ (I, O), given row-major at `wt`, into this `float32` matrix's panels: blocks of 64 rows side by
    /// side, each copied into every panel.
    func storeTransposed(_ wt: UnsafePointer<Float>) {
        let (o, i) = (rows, columns)
        Threading.parallelFor((i + 63) / 64) { start, end in
            for block in start..<end {
                storeTransposedRows(wt + block * 64 * o, first: block * 64, count: min(64, i - block * 64))
            }
        }
    }

    /// Rows first ..< first + count of Wᵀ (I, O), given at `rows` (count × O, row-major), into the panels: row k's
    /// columns p·16 ..< p·16 + 16 become panel p's column k (64-byte runs; a partial panel's padding is not written).
    func storeTransposedRows(_ rows: UnsafePointer<Float>, first: Int, count: Int) {
        let (w, o, i) = (Self.panelWidth, self.rows, columns)
        let dst = data.assumingMemoryBound(to: Float.self)
        for p in 0..<panels {
            let width = min(w, o - p * w)
            let panel = dst + p * i * w
            for k in 0..<count { (panel + (first + k) * w).update(from: rows + k * o + p * w, count: width) }
        }
    }

    /// Packs W (O, I) as `float32` from Wᵀ (I, O) produced `blockRows` rows at a time: `fill(first, rows, buffer)`
    /// writes rows first ..< first + rows of Wᵀ into `buffer` (rows × O, row-major, contents undefined before), and
    /// each block is copied into the panels while it is in cache. Blocks are filled side by side across threads
    /// (each thread with its own buffer), so `fill` must only depend on its arguments.
    ///
    /// This is `init(transposed:)` without the I × O intermediate, for weights formed block by block (the BTT
    /// forward's W_eff = blockdiag(R')·L, one input block of rows at a time).
    public convenience init(transposedRows i: Int, columns o: Int, blockRows: Int,
                            fill: (Int, Int, UnsafeMutablePointer<Float>) -> Void) throws {
        guard i > 0, o > 0, blockRows > 0 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix(transposedRows:)",
                                              message: "sizes must be positive (got \(i) rows of Wᵀ, \(o) columns, blocks of \(blockRows))")
        }
        self.init(rows: o, columns: i, storage: .float32, zeroed: o % Self.panelWidth != 0)
        let blocks = (i + blockRows - 1) / blockRows
        Threading.parallelFor(blocks) { start, end in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * o)
            defer { buffer.deallocate() }
            for block in start..<end {
                let first = block * blockRows, rows = min(blockRows, i - first)
                fill(first, rows, buffer)
                storeTransposedRows(buffer, first: first, count: rows)
            }
        }
    }

    /// Packs W (O, I) as `float32` where Wᵀ = blockdiag(A_0, …, A_{n−1}) · B is formed right in the panels:
    /// row j·b + q of Wᵀ is Σ_k A_j[q, k] · B[j·r + k, :], 8 rows × 16 columns at a time in registers (the
    /// `kernel8` tile, reading B's rows in place). O must be a multiple of 16 (use `init(transposedRows:…)`
    /// otherwise).
    ///
    /// - Parameters: `a`: A_j (b × r) at `a + j·b·lda`, rows `lda` apart; `b`: B (n·r × O), rows `ldb` apart;
    ///   `storage`: `float32`, or `bfloat16Dot` (each f32 sum rounded to bf16 as it leaves the registers: the same bits
    ///   as packing the f32 result, without the f32 matrix).
    public convenience init(blockDiagonal a: UnsafePointer<Float>, lda: Int, blocks n: Int, blockRows rows: Int, rank r: Int,
                            times b: UnsafePointer<Float>, ldb: Int, columns o: Int, storage: Storage = .float32) throws {
        let w = Self.panelWidth
        guard n > 0, rows > 0, r > 0, o > 0, o % w == 0, storage == .float32 || storage == .bfloat16Dot else {
            throw TensorError.invalidArgument(operation: "PanelMatrix(blockDiagonal:)",
                                              message: "needs positive sizes, O a multiple of 16 and float32 or bfloat16Dot storage (got n \(n), b \(rows), r \(r), O \(o), \(storage))")
        }
        let i = n * rows
        self.init(rows: o, columns: i, storage: storage, zeroed: storage == .bfloat16Dot && i % 2 == 1)
        let panels = self.panels
        let paired = storage == .bfloat16Dot
        let dst = data.assumingMemoryBound(to: Float.self)
        Threading.parallelFor(panels * n) { start, end in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 8 * w)
            defer { scratch.deallocate() }
            for task in start..<end {
                let (p, j) = (task / n, task % n)
                let aj = a + j * rows * lda, bj = b + j * r * ldb + p * w
                let out = dst + (p * i + j * rows) * w
                var q = 0
                while q + 8 <= rows {
                    // SAFETY: A_j rows q ..< q+8 (r floats each), B rows j·r ..< j·r+r at columns p·16 ..< p·16+16,
                    // panel p columns j·b+q ..< j·b+q+8 (16 floats each).
                    Self.blockRowTile8(aj + q * lda, lda, bj, ldb, r, paired ? scratch : out + q * w)
                    if paired { storePairedColumns(scratch, panel: p, first: j * rows + q, count: 8) }
                    q += 8
                }
                while q < rows {
                    var acc = SIMD16<Float>()
                    for k in 0..<r { acc = acc.addingProduct(Kernels.load(bj + k * ldb), SIMD16(repeating: aj[q * lda + k])) }
                    Kernels.store(acc, paired ? scratch : out + q * w)
                    if paired { storePairedColumns(scratch, panel: p, first: j * rows + q, count: 1) }
                    q += 1
                }
            }
        }
    }

    /// Columns first ..< first + count of panel p of a `bfloat16Dot` matrix from `count` × 16 floats (column by column),
    /// rounded to bf16: whole pairs as 64-byte runs, a column without its partner in the run one value at a time.
    @inline(__always)
    func storePairedColumns(_ columnsOfPanel: UnsafePointer<Float>, panel p: Int, first: Int, count: Int) {
        let w = Self.panelWidth
        let bits = data.assumingMemoryBound(to: UInt16.self)
        var t = 0
        while t < count {
            let c = first + t
            if c % 2 == 0, t + 1 < count {
                let low = UnsafeRawPointer(columnsOfPanel + t * w).loadUnaligned(as: SIMD16<UInt32>.self)
                let high = UnsafeRawPointer(columnsOfPanel + (t + 1) * w).loadUnaligned(as: SIMD16<UInt32>.self)
                let pair = Self.bfloat16Bits(low) | (Self.bfloat16Bits(high) &<< 16)
                UnsafeMutableRawPointer(bits + pairIndex(p, 0, c)).storeBytes(of: pair, as: SIMD16<UInt32>.self)
                t += 2
            } else {
                for l in 0..<w { bits[pairIndex(p, l, c)] = HalfPrecision.bfloat16Bits(from: columnsOfPanel[t * w + l]) }
                t += 1
            }
        }
    }

    /// out[t·16 ..< t·16+16] = Σ_k a[t·lda + k] · b[k·ldb ..< k·ldb+16] for t < 8: `kernel8` with B's rows `ldb` apart.
    @inline(__always)
    static func blockRowTile8(_ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ r: Int,
                              _ out: UnsafeMutablePointer<Float>) {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
        var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
        let (a0, a1, a2, a3) = (a, a + lda, a + 2 * lda, a + 3 * lda)
        let (a4, a5, a6, a7) = (a + 4 * lda, a + 5 * lda, a + 6 * lda, a + 7 * lda)
        for k in 0..<r {
            let v = Kernels.load(b + k * ldb)
            c0 = c0.addingProduct(v, SIMD16(repeating: a0[k])); c1 = c1.addingProduct(v, SIMD16(repeating: a1[k]))
            c2 = c2.addingProduct(v, SIMD16(repeating: a2[k])); c3 = c3.addingProduct(v, SIMD16(repeating: a3[k]))
            c4 = c4.addingProduct(v, SIMD16(repeating: a4[k])); c5 = c5.addingProduct(v, SIMD16(repeating: a5[k]))
            c6 = c6.addingProduct(v, SIMD16(repeating: a6[k])); c7 = c7.addingProduct(v, SIMD16(repeating: a7[k]))
        }
        let w = panelWidth
        Kernels.store(c0, out); Kernels.store(c1, out + w); Kernels.store(c2, out + 2 * w); Kernels.store(c3, out + 3 * w)
        Kernels.store(c4, out + 4 * w); Kernels.store(c5, out + 5 * w); Kernels.store(c6, out + 6 * w); Kernels.store(c7, out + 7 * w)
    }

    /// The `float32` packing of w (O, I) row-major, a panel at a time: each panel's 16 source rows are read
    /// side by side (16 streams) while its I × 16 floats are written in order. `range`: only those panels, from
    /// rows starting at w (row 16·range.lowerBound of W).
    func packFloat32(_ w: UnsafePointer<Float>, panels range: Range<Int>? = nil) {
        let range = range ?? 0..<panels
        let width = Self.panelWidth, (o, i) = (rows, columns)
        let dst = data.assumingMemoryBound(to: Float.self)
        Threading.parallelFor(range.count, minimumPerChunk: max(1, (1 << 16) / max(1, i * width))) { start, end in
            for p in (range.lowerBound + start)..<(range.lowerBound + end) {
                let panel = dst + p * i * width
                let count = min(width, o - p * width)
                let source = w + (p - range.lowerBound) * width * i
                var k = 0
                while k < i {
                    for l in 0..<count {
                        panel[k * width + l] = source[l * i + k]
                    }
                    k += 1
                }
            }
        }
    }
}
