// Legend: O rows of W (output features), I columns of W (input features); panels of 16 rows.

extension PanelMatrix {
    /// Packs W (O, I) as `float32` from its transpose Wᵀ (I, O), row-major: row k of Wᵀ holds, 16 at a time, the
    /// panel entries of column k, so the packing is a copy of 64-byte runs (no transposition).
    ///
    /// For training layers that form a weight as Wᵀ (the BTT forward's W_eff = blockdiag(R')·L) and multiply it
    /// once by many rows.
    public convenience init(transposed wt: Tensor) throws {
        let (i, o) = try wt.dims2("PanelMatrix(transposed:)")
        let w = Self.panelWidth
        self.init(rows: o, columns: i, storage: .float32, zeroed: o % w != 0)
        let panels = self.panels
        let dst = data.assumingMemoryBound(to: Float.self)
        wt.withUnsafeBufferPointer { src in
            Threading.parallelFor(panels, minimumPerChunk: max(1, (1 << 16) / max(1, i * w))) { start, end in
                for p in start..<end {
                    let width = min(w, o - p * w)
                    let panel = dst + p * i * w
                    for k in 0..<i {
                        // SAFETY: row k of Wᵀ, columns p·16 ..< p·16 + width; panel column k (16 floats, padding stays 0).
                        (panel + k * w).update(from: src.baseAddress! + k * o + p * w, count: width)
                    }
                }
            }
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
        let w = Self.panelWidth
        self.init(rows: o, columns: i, storage: .float32, zeroed: o % w != 0)
        let panels = self.panels
        let dst = data.assumingMemoryBound(to: Float.self)
        let blocks = (i + blockRows - 1) / blockRows
        Threading.parallelFor(blocks) { start, end in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * o)
            defer { buffer.deallocate() }
            for block in start..<end {
                let first = block * blockRows, rows = min(blockRows, i - first)
                fill(first, rows, buffer)
                for p in 0..<panels {
                    let width = min(w, o - p * w)
                    let panel = dst + p * i * w
                    // SAFETY: row k of the block is Wᵀ row first + k: its columns p·16 ..< p·16 + width go to panel
                    // column first + k (16 floats; the padding of a partial panel stays 0).
                    for k in 0..<rows { (panel + (first + k) * w).update(from: buffer + k * o + p * w, count: width) }
                }
            }
        }
    }

    /// The `float32` packing of w (O, I) row-major, a panel at a time: each panel's 16 source rows are read
    /// side by side (16 streams) while its I × 16 floats are written in order.
    func packFloat32(_ w: UnsafePointer<Float>) {
        let width = Self.panelWidth, (o, i) = (rows, columns)
        let dst = data.assumingMemoryBound(to: Float.self)
        Threading.parallelFor(panels, minimumPerChunk: max(1, (1 << 16) / max(1, i * width))) { start, end in
            for p in start..<end {
                let panel = dst + p * i * width
                let count = min(width, o - p * width)
                let source = w + p * width * i
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
