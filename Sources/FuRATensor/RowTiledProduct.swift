// Legend: N rows of x, O rows of W (output features), I columns of W (input features).

/// Products with a matrix W (O, I) that exists only in a compressed form and is decoded a few rows at
/// a time into a scratch tile right before an sgemm, so the whole `Float` matrix never exists at once.
///
/// `decode(r0, r1, tile)` writes rows r0..<r1 of W, row-major, into `tile` ((r1 − r0)·I floats); it is
/// called from several threads at once for disjoint row ranges.
public struct RowTiledMatrix {
    public typealias Decoder = (_ firstRow: Int, _ endRow: Int, _ tile: UnsafeMutablePointer<Float>) -> Void

    /// O.
    public let rows: Int
    /// I.
    public let columns: Int
    /// Rows per tile.
    public let tileRows: Int
    private let decode: Decoder

    /// The default bound on a scratch tile: 2^21 floats (8 MiB). In x·Wᵀ every tile re-packs all of x inside
    /// sgemm, so tiles of a few hundred rows keep that copy small next to the tile's 2·N·I·rows flops.
    public static let defaultTileElements = 1 << 21

    /// - Parameters: `tileElements` bounds the scratch tile.
    public init(rows: Int, columns: Int, tileElements: Int = RowTiledMatrix.defaultTileElements, decode: @escaping Decoder) {
        self.rows = rows
        self.columns = columns
        self.tileRows = Swift.max(1, Swift.min(rows, tileElements / Swift.max(1, columns)))
        self.decode = decode
    }

    /// Calls `body(r0, r1, tile)` for each tile of rows in order; `tile` holds W[r0..<r1, :].
    public func forEachTile(_ body: (Int, Int, UnsafePointer<Float>) throws -> Void) rethrows {
        guard rows > 0, columns > 0 else { return }
        var scratch = [Float](repeating: 0, count: tileRows * columns)
        try scratch.withUnsafeMutableBufferPointer { buffer in
            let tile = buffer.baseAddress!
            var r0 = 0
            while r0 < rows {
                let r1 = Swift.min(rows, r0 + tileRows)
                let decodeRows = decode, width = columns
                Threading.parallelFor(r1 - r0, minimumPerChunk: Swift.max(1, 16_384 / width)) { a, b in
                    decodeRows(r0 + a, r0 + b, tile + a * width)
                }
                try body(r0, r1, UnsafePointer(tile))
                r0 = r1
            }
        }
    }

    /// y = x · Wᵀ (+ y when accumulating). x: (N, I) → y: (N, O).
    ///
    /// At `ComputePrecision.bf16` each decoded tile is rounded into bf16 pairs (`PanelMatrix.Storage.bfloat16Dot`) and
    /// multiplied on the AVX512-BF16 kernel with f32 sums (the NF4 weights' bf16 products: still one tile at a time).
    public func multiplyTransposed(_ x: Tensor, into y: inout Tensor, accumulate: Bool = false, alpha: Float = 1,
                                   precision: ComputePrecision = .f32) throws {
        let n = try prepare(x, inner: columns, output: &y, outer: rows, accumulate: accumulate, operation: "RowTiledMatrix x·Wᵀ")
        let (o, i) = (rows, columns)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                forEachTile { r0, r1, tile in
                    // SAFETY: x is N×I, tile is (r1−r0)×I, y's columns r0..<r1 are an N×(r1−r0) view with stride O.
                    if precision == .bf16 {
                        let panels = PanelMatrix.bfloat16Dot(rows: r1 - r0, columns: i, from: tile)
                        let part = Tensor.filled([n, r1 - r0]) { panels.multiply(px.baseAddress!, rows: n, into: $0) }
                        StridedBlock.scatter(part, into: py.baseAddress! + r0, ld: o, accumulate: accumulate, alpha: alpha)
                    } else {
                        BLAS.gemm(transposeA: false, transposeB: true, m: n, n: r1 - r0, k: i, alpha: alpha,
                                  a: px.baseAddress!, lda: i, b: tile, ldb: i,
                                  beta: accumulate ? 1 : 0, c: py.baseAddress! + r0, ldc: o)
                    }
                }
            }
        }
    }

    /// dX = dY · W (+ dX when accumulating). dY: (N, O) → dX: (N, I). At bf16, a tile's rows of W are packed
    /// transposed as bf16 pairs.
    public func multiply(_ dY: Tensor, into dX: inout Tensor, accumulate: Bool = false, alpha: Float = 1,
                         precision: ComputePrecision = .f32) throws {
        let n = try prepare(dY, inner: rows, output: &dX, outer: columns, accumulate: accumulate, operation: "RowTiledMatrix dY·W")
        let (o, i) = (rows, columns)
        var first = !accumulate
        try dY.withUnsafeBufferPointer { pg in
            try dX.withUnsafeMutableBufferPointer { pd in
                try forEachTile { r0, r1, tile in
                    // SAFETY: dY's columns r0..<r1 are N×(r1−r0) with stride O; tile is (r1−r0)×I; dX is N×I.
                    if precision == .bf16 {
                        let panels = try PanelMatrix.bfloat16DotTransposed(rows: r1 - r0, columns: i, from: tile)
                        // dY's columns as a contiguous block (the kernel reads x with ld = its columns).
                        let part = try panels.multiply(StridedBlock.gather(pg.baseAddress! + r0, ld: o, rows: n, columns: r1 - r0))
                        StridedBlock.scatter(part, into: pd.baseAddress!, ld: i, accumulate: !first, alpha: alpha)
                    } else {
                        BLAS.gemm(transposeA: false, transposeB: false, m: n, n: i, k: r1 - r0, alpha: alpha,
                                  a: pg.baseAddress! + r0, lda: o, b: tile, ldb: i,
                                  beta: first ? 0 : 1, c: pd.baseAddress!, ldc: i)
                    }
                    first = false
                }
            }
        }
    }

    /// Checks `input` (N, inner) and readies `output` (N, outer): zeros of that shape unless it already has it (a
    /// different shape is an error when accumulating); zeroed when no tile will run (inner size 0). Returns N.
    private func prepare(_ input: Tensor, inner: Int, output: inout Tensor, outer: Int, accumulate: Bool, operation: String) throws -> Int {
        let (n, k) = try input.dims2(operation)
        guard k == inner else { throw TensorError.shapeMismatch(operation: operation, lhs: input.shape, rhs: [rows, columns]) }
        if output.shape != [n, outer] {
            guard !accumulate else { throw TensorError.shapeMismatch(operation: operation + " (accumulate)", lhs: [n, outer], rhs: output.shape) }
            output = Tensor.zeros([n, outer])
        } else if !accumulate && inner == 0 {
            output.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }  // no tile runs: the product is zero
        }
        return n
    }

    /// The whole matrix in `Float`: (O, I).
    public func dense() -> Tensor {
        var out = Tensor.zeros([rows, columns])
        let width = columns
        out.withUnsafeMutableBufferPointer { p in
            let decodeRows = decode
            Threading.parallelFor(rows, minimumPerChunk: Swift.max(1, 16_384 / Swift.max(1, width))) { a, b in
                decodeRows(a, b, p.baseAddress! + a * width)
            }
        }
        return out
    }
}
