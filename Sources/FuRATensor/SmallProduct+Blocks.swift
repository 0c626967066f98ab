// Legend: N rows; n blocks; K inner size of a block's product, C its column count; T rows per chunk.

extension SmallProduct {
    /// Rows per chunk of the block loops: a chunk runs through every block before the next chunk starts,
    /// so each row of the wide operands is read once, front to back.
    public static let blockChunk = 64

    /// The forward of a block-diagonal right factor: `Y[:, j·C ..< (j+1)·C] = X[:, j·K ..< (j+1)·K] · B_j` for every
    /// block j < n, with B_j packed by `pack` at `packed + j·packedCount(k: K, columns: C)`.
    ///
    /// - Parameters: `x` (N, n·K) rows `ldx` apart; `y` (N, n·C) rows `ldy` apart (every element written).
    ///   Threads take contiguous ranges of rows (multiples of 8).
    public static func blockDiagonal(blocks n: Int, rows: Int, k: Int, columns: Int,
                                     x: UnsafePointer<Float>, ldx: Int, packed: UnsafePointer<Float>,
                                     y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard n > 0, rows > 0, k > 0, columns > 0 else { return }
        let stride = packedCount(k: k, columns: columns), chunk = blockChunk
        let tiles = (rows + tileRows - 1) / tileRows
        Threading.parallelFor(tiles, minimumPerChunk: 4) { first, end in
            var t0 = first * tileRows
            let stop = min(rows, end * tileRows)
            while t0 < stop {
                let count = min(chunk, stop - t0)
                for j in 0..<n {
                    multiply(x + t0 * ldx + j * k, lda: ldx, rows: count, k: k, packed: packed + j * stride,
                             columns: columns, into: y + t0 * ldy + j * columns, ldc: ldy, accumulate: false)
                }
                t0 += count
            }
        }
    }

    /// The backward of `blockDiagonal` for every block j < n, reading each block of dY once per chunk:
    /// `dX[:, j·K ..< (j+1)·K] = dY_j · Bᵀ_j` with Bᵀ_j packed (C × K) at `packedTransposed + j·packedCount(k: C, columns: K)`,
    /// and, when `gradient` is given, `gradient_j (K, C) (+)= X_jᵀ · dY_j` at `gradient + j·K·C`.
    ///
    /// - Parameters: `dy` (N, n·C) rows `lddy` apart; `dx` (N, n·K) rows `lddx` apart (every element written);
    ///   `x` (N, n·K) rows `ldx` apart (read only for the gradient); `accumulate`: add to `gradient` instead of
    ///   overwriting it. Threads take contiguous ranges of blocks (each owns its gradients).
    public static func blockDiagonalBackward(blocks n: Int, rows: Int, k: Int, columns: Int,
                                             dy: UnsafePointer<Float>, lddy: Int, packedTransposed: UnsafePointer<Float>,
                                             dx: UnsafeMutablePointer<Float>, lddx: Int,
                                             x: UnsafePointer<Float>, ldx: Int,
                                             gradient: UnsafeMutablePointer<Float>?, accumulate: Bool) {
        guard n > 0, k > 0, columns > 0 else { return }
        guard rows > 0 else {
            if let gradient, !accumulate { gradient.update(repeating: 0, count: n * k * columns) }
            return
        }
        let stride = packedCount(k: columns, columns: k), chunk = blockChunk
        let readableEnd = dy + (rows - 1) * lddy + n * columns
        Threading.parallelFor(n) { first, end in
            var t0 = 0
            while t0 < rows {
                let count = min(chunk, rows - t0)
                for j in first..<end {
                    let dyj = dy + t0 * lddy + j * columns
                    multiply(dyj, lda: lddy, rows: count, k: columns, packed: packedTransposed + j * stride,
                             columns: k, into: dx + t0 * lddx + j * k, ldc: lddx, accumulate: false)
                    if let gradient {
                        reduceTiles(x + t0 * ldx + j * k, lda: ldx, rows: count, k: k, dyj, ldd: lddy, columns: columns,
                                    readableEnd: readableEnd, into: gradient + j * k * columns, ldc: columns,
                                    accumulate: accumulate || t0 > 0)
                    }
                }
                t0 += count
            }
        }
    }
}
