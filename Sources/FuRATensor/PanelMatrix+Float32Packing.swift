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
