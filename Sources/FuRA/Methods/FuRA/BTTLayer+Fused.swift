import FuRANN
import FuRATensor

// Legend: N rows; m output blocks of size a (O = m·a); n input blocks of size b (I = n·b); r rank per block.

/// How a BTT layer forms y in the forward.
public enum BTTForwardRoute: Sendable {
    /// y = Z·L with H_j = x_j · R'_j: the block products, then one large product (the route that keeps Z for dL).
    case blockProducts
    /// y = x · W_eff with W_eff = blockdiag(R')·L (I × O) formed first: the same numbers up to rounding, and cheaper
    /// when the weight is smaller than the activations (O < N for `output_one_block`); not taken when the left core
    /// trains (its gradient needs Z).
    case effectiveWeight

    /// The route with less work for `rows` rows: forming W_eff costs m·n·a·b·r multiply-adds and its product N·I·O,
    /// counted at 1/1.1 when it runs on packed panels (I ≤ `BTTLayer.panelProductLimit`; they run at ~1.1× sgemm's
    /// rate); the block products cost N·m·n·r·(a + b).
    public static func preferred(for g: BTTGeometry, rows: Int) -> BTTForwardRoute {
        let materialize = Double(g.m * g.n) * Double(g.a * g.b * g.r)
        let productRate = g.inFeatures <= BTTLayer.panelProductLimit ? 1.1 : 1.0
        let effective = materialize + Double(rows) * Double(g.inFeatures) * Double(g.outFeatures) / productRate
        let blocks = Double(rows) * Double(g.m * g.n * g.r) * Double(g.a + g.b)
        return effective <= blocks ? .effectiveWeight : .blockProducts
    }
}

extension BTTLayer {
    /// Products with an inner dimension up to this run on packed panels (`PanelMatrix`, 8-row × 16-column register
    /// tiles, 64 rows of the left operand kept in L2) instead of sgemm: 108–113 GFLOP/s against sgemm's 99–105 on one
    /// core here at inner sizes 576 and 1536 (`fura-bench --filter layer-parts`). Past it the 64-row tile and a panel
    /// no longer fit in L2 and sgemm's blocking wins.
    static let panelProductLimit = 2048

    /// Rows j·b ..< (j+1)·b of W_eff (rows × O): block (j, i) is R'_j[:, i·r ..< (i+1)·r] · L_i[j·r ..< (j+1)·r, :],
    /// one serial sgemm per output block. `rPrime` is R' (n, b, m·r); `first` is a multiple of b.
    private func effectiveWeightRows(_ first: Int, _ rows: Int, rPrime rp: UnsafePointer<Float>, left lp: UnsafePointer<Float>,
                                     into buffer: UnsafeMutablePointer<Float>) {
        let g = geometry, mr = g.m * g.r, nr = g.n * g.r, j = first / g.b
        for i in 0..<g.m {
            // SAFETY: R'_j columns i·r.. are b×r (ld m·r); L_i rows j·r.. are r×a (ld a); the b×a result lands at
            // column i·a of the buffer (ld O).
            BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: g.a, k: g.r,
                      a: rp + j * g.b * mr + i * g.r, lda: mr, b: lp + (i * nr + j * g.r) * g.a, ldb: g.a,
                      c: buffer + i * g.a, ldc: g.outFeatures)
        }
    }

    /// y (N, O) = x · W_eff, no bias (route `effectiveWeight`): W_eff formed straight into packed panels when
    /// I ≤ `panelProductLimit` (for one output block with O a multiple of 16 by 8×16 register tiles that read L in
    /// place, otherwise an input block at a time by sgemm), else as the dense weight multiplied by sgemm.
    func effectiveWeightForward(_ rows: Tensor) throws -> Tensor {
        let g = geometry
        if g.inFeatures <= Self.panelProductLimit {
            let rPrime = scaledRight()
            let panels = try rPrime.withUnsafeBufferPointer { rp in
                try left.value.withUnsafeBufferPointer { lp in
                    if g.m == 1, g.a % PanelMatrix.panelWidth == 0 {
                        // SAFETY: R'_j is b × r at j·b·r (ld r); L is n·r × a (ld a).
                        return try PanelMatrix(blockDiagonal: rp.baseAddress!, lda: g.r, blocks: g.n, blockRows: g.b, rank: g.r,
                                               times: lp.baseAddress!, ldb: g.a, columns: g.a, storage: computePrecision.panelStorage)
                    }
                    return try PanelMatrix(transposedRows: g.inFeatures, columns: g.outFeatures, blockRows: g.b) { first, blockRows, buffer in
                        effectiveWeightRows(first, blockRows, rPrime: rp.baseAddress!, left: lp.baseAddress!, into: buffer)
                    }
                }
            }
            return try (computePrecision == .bf16 && panels.storage == .float32 ? panels.bfloat16DotCopy() : panels).multiply(rows)
        }
        return try Tensor.matmul(rows, try denseWeight(), transposeB: true)   // W_eff = Wᵀ
    }

    /// Row tiles of the fused backward are grouped into at most this many runs, each with its own partial gradient
    /// of R' (summed in run order), so the sums do not depend on the thread count. Up to this many threads share
    /// the pass; more runs would cost more partial sums (each n·b·r floats) than they save.
    static let fusedBackwardRuns = 8

    /// The backward's products for m = 1 without ever holding dH whole: L (n·r × a) is packed into 16-row panels
    /// once per call, then 64-row tiles of G are taken in runs (contiguous, at most `fusedBackwardRuns`, split over the
    /// threads) and for each tile dH = G·Lᵀ (64 × n·r, in L2) is formed and at once consumed: dX_j = dH_j · R'_jᵀ and
    /// P_j += x_jᵀ · dH_j (`SmallProduct`). Each run sums into its own P; the runs are added in order, so the result is
    /// the same for any thread count.
    ///
    /// - Parameters: `gRows` (N, O); `packedTransposed` from `packRight(transposed: true)`; `x` (N, I), nil when no
    ///   gradient of R' or S is needed. With no S the right core's gradient receives P; otherwise `accumulateFromProducts`.
    func fusedBackwardProducts(_ gRows: Tensor, packedTransposed: [Float], x: Tensor?) throws -> Tensor {
        let g = geometry
        precondition(g.m == 1, "the fused backward is for one output block")
        let count = gRows.shape[0], width = g.n * g.r
        guard count > 0 else { return Tensor.zeros([0, g.inFeatures]) }   // no rows: nothing to add to the gradients
        // f32: packed per call (a transient copy); bf16: kept between steps (half the bytes, L is frozen).
        let panels = computePrecision == .bf16
            ? try leftPanels.value(version: left.version, precision: .bf16) {
                try PanelMatrix(left.value.reshaped([width, g.a]), storage: .bfloat16Dot)
            }
            : try PanelMatrix(left.value.reshaped([width, g.a]), storage: .float32)
        var dX = Tensor.unfilled([count, g.inFeatures])   // every row is written by its tile
        let tileRows = PanelMatrix.rowChunk
        let tiles = (count + tileRows - 1) / tileRows
        let runs = max(1, min(Self.fusedBackwardRuns, tiles))
        let perGradient = x == nil ? 0 : g.n * g.b * g.r
        // Each run's first tile overwrites its partial sum: no zero-fill.
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: max(1, runs * perGradient))
        defer { partial.deallocate() }
        let xTensor = x ?? gRows   // not read without a gradient
        gRows.withUnsafeBufferPointer { gp in
            xTensor.withUnsafeBufferPointer { xp in
                packedTransposed.withUnsafeBufferPointer { pt in
                    dX.withUnsafeMutableBufferPointer { dp in
                        let (gBase, xBase, dBase, ptBase) = (gp.baseAddress!, xp.baseAddress!, dp.baseAddress!, pt.baseAddress!)
                        Threading.parallelFor(runs) { first, end in
                            let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * width)
                            defer { tile.deallocate() }
                            for run in first..<end {
                                let gradient = perGradient == 0 ? nil : partial + run * perGradient
                                let firstTile = run * tiles / runs
                                for t in firstTile..<((run + 1) * tiles / runs) {
                                    let t0 = t * tileRows, rows = min(tileRows, count - t0)
                                    // SAFETY: G rows t0 ..< t0 + rows (ld O) → dH tile (rows × n·r, ld n·r); the
                                    // tile's rows of dX and x (ld I); the run's own b × r gradient per block.
                                    panels.multiply(gBase + t0 * g.a, rows: rows, into: tile)
                                    SmallProduct.blockDiagonalBackward(
                                        blocks: g.n, rows: rows, k: g.b, columns: g.r, dy: tile, lddy: width,
                                        packedTransposed: ptBase, dx: dBase + t0 * g.inFeatures, lddx: g.inFeatures,
                                        x: xBase + t0 * g.inFeatures, ldx: g.inFeatures,
                                        gradient: gradient, accumulate: t > firstTile)
                                }
                            }
                        }
                    }
                }
            }
        }
        guard x != nil else { return dX }
        // P = Σ_run partial_run in run order, element ranges side by side.
        var p = Tensor.unfilled(g.rightShape)
        p.withUnsafeMutableBufferPointer { sum in
            let out = sum.baseAddress!
            Threading.parallelFor(perGradient, minimumPerChunk: 1 << 14) { start, end in
                (out + start).update(from: partial + start, count: end - start)
                for run in 1..<runs { Kernels.axpy(1, partial + run * perGradient + start, out + start, end - start) }
            }
        }
        try accumulateFromProducts(p)
        return dX
    }
}
