import FuRANN
import FuRATensor

// Legend: N rows; m output blocks of size a (O = m·a); n input blocks of size b (I = n·b); r rank per block.

/// QFuRA: a BTT layer whose frozen core is stored in NF4 (Docs/methods.md §9, the reference's `QBTTLayer`).
///
/// The output is the BTT output with the frozen core replaced by its dequantized value:
/// `y[:, i·a+p] = Σ_j Σ_k L̂[i, j·r+k, p] · s[i,j,k] · Σ_q R[j, q, i·r+k] · x[:, j·b+q] + bias` where one of L, R is
/// the dequantized NF4 core (hat) and the other the trainable core. The frozen core is read through
/// `QuantizedCore.forEachTile`, a tile of one slab at a time, inside the same two-step product as `BTTLayer`:
/// step 1 `H_j = x_j · R'_j` (R' = R with S folded in), step 2 `y_i = Z_i · L_i`. Backward forms `dZ = G · Lᵀ` once
/// and reuses it for dX and for the gradients of the right core and S.
///
/// The reference twin is `dequantizedBTT()`: a `BTTLayer` with the decoded core, which must give the same numbers.
public final class QBTTLayer: LinearLayer {
    /// The block grid and rank.
    public let geometry: BTTGeometry
    /// The decomposition mode the BTT layer was built with.
    public let decompMode: DecompMode
    /// The NF4 frozen core (`btt_l` (m, r·n, a) or `btt_r` (n, b, m·r)).
    public let core: QuantizedCore
    /// The other core, which trains: `btt_r` (n, b, m·r) when the left core is frozen, else `btt_l` (m, r·n, a).
    public let trainableCore: Parameter
    /// `btt_s` (m, n, r), or nil.
    public let singular: Parameter?
    /// `bias` (O,), or nil.
    public let bias: Parameter?
    /// `CoreFingerprint` of the BTT layer's frozen tensors (the `Float` core, and S when frozen) before quantization.
    public let sourceFingerprint: [Double]

    public var inFeatures: Int { geometry.inFeatures }
    public var outFeatures: Int { geometry.outFeatures }
    /// The frozen side.
    public var frozenSide: CoreSide { core.side }

    private var cachedInput: Tensor?
    private var cachedZ: Tensor?
    /// R' (n, b, m·r) when the right core is the trainable one.
    private var cachedScaledRight: Tensor?
    private var tileScratch: [Float] = []
    /// At bf16 the frozen NF4 core's products (a frozen left core: y_i += Z_i·L_i and dZ_i = G_i·L_iᵀ) round each decoded
    /// tile into bf16 pairs for the AVX512-BF16 kernel (never the whole core: it would take 8× the NF4 bytes); a frozen
    /// right core's block products stay f32.
    public var computePrecision = ComputePrecision.f32
    /// The bound on one decoded tile of the frozen core, in floats.
    public var tileElements = QuantizedCore.defaultTileElements

    /// Quantizes the frozen core of `btt` (Docs/methods.md §9 `quantize_frozen_core_`): the core that does not train is stored
    /// in NF4 and dropped; the trainable core, S and bias are shared with `btt` (same `Parameter` objects).
    ///
    /// - Throws: `ConversionError.incompatible` unless exactly one core trains; `NF4Error.nonFinite` for NaN/inf.
    public init(quantizing btt: BTTLayer, options: QFuRAOptions = QFuRAOptions(), module: String = "QBTTLayer") throws {
        guard btt.left.trainable != btt.right.trainable else {
            let which = btt.left.trainable ? "both cores train" : "no core trains"
            throw ConversionError.incompatible(module: module, option: "train_position", value: which,
                                               reason: "QFuRA quantizes the one frozen core, so exactly one core must train; use train_position small or large")
        }
        let frozen = btt.left.trainable ? btt.right : btt.left
        let side: CoreSide = btt.left.trainable ? .right : .left
        geometry = btt.geometry
        decompMode = btt.decompMode
        sourceFingerprint = CoreFingerprint.of(CoreFingerprint.frozenTensors(of: btt))
        core = try QuantizedCore(frozen.value, side: side, options: options, module: module)
        trainableCore = btt.left.trainable ? btt.left : btt.right
        singular = btt.singular
        bias = btt.bias
    }

    public var parameters: [(name: String, parameter: Parameter)] {
        var list: [(name: String, parameter: Parameter)] = [(core.side == .left ? "btt_r" : "btt_l", trainableCore)]
        if let s = singular { list.append(("btt_s", s)) }
        if let b = bias { list.append(("bias", b)) }
        return list
    }

    public var denseBias: Tensor? { bias?.value }

    /// Sets what trains: the non-quantized core always, S by `trainSingularValues`, bias by `trainBias`.
    public func configureTrainability(trainBias: Bool, trainSingularValues: Bool) {
        trainableCore.trainable = true
        singular?.trainable = trainSingularValues
        bias?.trainable = trainBias
    }

    public func releaseForwardCache() {
        cachedInput = nil
        cachedZ = nil
        cachedScaledRight = nil
        tileScratch = []
    }

    /// The reference twin: a `BTTLayer` with the dequantized frozen core and copies of the other tensors
    /// (trainability copied too).
    public func dequantizedBTT() throws -> BTTLayer {
        let decoded = core.dequantized()
        let layer = try BTTLayer(geometry: geometry, decompMode: decompMode,
                                 right: core.side == .right ? decoded : trainableCore.value,
                                 left: core.side == .left ? decoded : trainableCore.value,
                                 singular: singular?.value, bias: bias?.value)
        (core.side == .left ? layer.right : layer.left).trainable = trainableCore.trainable
        layer.singular?.trainable = singular?.trainable ?? false
        layer.bias?.trainable = bias?.trainable ?? false
        return layer
    }

    /// The dense weight (O, I): the dequantized frozen core times the trained factors (Docs/methods.md §9; what merge writes).
    public func denseWeight() throws -> Tensor { try dequantizedBTT().denseWeight() }

    /// Multiplies a decoded tile of `btt_r` slab j (rows q0..<q1, m·r columns) by s[i, j, k] column-wise.
    private func scaleRightTile(_ tile: UnsafeMutablePointer<Float>, slab j: Int, rows: Int) {
        guard let s = singular?.value else { return }
        let g = geometry, mr = g.m * g.r
        s.withUnsafeBufferPointer { sp in
            for q in 0..<rows {
                let row = tile + q * mr
                for i in 0..<g.m {
                    for k in 0..<g.r { row[i * g.r + k] *= sp[(i * g.n + j) * g.r + k] }
                }
            }
        }
    }

    /// R' (n, b, m·r) of a trainable right core: `btt_r` with S folded in.
    private func scaledTrainableRight() -> Tensor {
        var out = trainableCore.value
        let g = geometry, mr = g.m * g.r
        out.withUnsafeMutableBufferPointer { p in
            for j in 0..<g.n { scaleRightTile(p.baseAddress! + j * g.b * mr, slab: j, rows: g.b) }
        }
        return out
    }

    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let rows = try x.asRows(features: inFeatures, layer: "QBTTLayer")
        let g = geometry
        let count = rows.shape[0]
        let mr = g.m * g.r, nr = g.n * g.r, width = g.n * mr
        var h = Tensor.zeros([count, width])
        let rPrime: Tensor? = core.side == .left ? scaledTrainableRight() : nil
        if let rPrime {
            BTTLayer.blockLeftProducts(x: rows, rPrime: rPrime, geometry: g, count: count, into: &h)
        } else {
            rows.withUnsafeBufferPointer { xp in
                h.withUnsafeMutableBufferPointer { hp in
                    for j in 0..<g.n {
                        core.forEachTile(slab: j, scratch: &tileScratch, tileElements: tileElements) { q0, q1, tile in
                            scaleRightTile(tile, slab: j, rows: q1 - q0)
                            // SAFETY: x_j's columns q0..<q1 are N×(q1−q0) (ld I); the tile is rows q0..<q1 of R'_j
                            // ((q1−q0)×m·r); H_j (N×m·r, ld n·m·r) accumulates over the tiles.
                            BLAS.gemm(transposeA: false, transposeB: false, m: count, n: mr, k: q1 - q0,
                                      a: xp.baseAddress! + j * g.b + q0, lda: g.inFeatures,
                                      b: tile, ldb: mr,
                                      beta: q0 == 0 ? 0 : 1, c: hp.baseAddress! + j * mr, ldc: width)
                        }
                    }
                }
            }
        }
        let z = g.m == 1 ? h : BTTLayer.permuteBlocks(h, rows: count, outer: g.n, inner: g.m, r: g.r)
        var y = Tensor.zeros([count, g.outFeatures])
        let bf16 = computePrecision == .bf16
        try z.withUnsafeBufferPointer { zp in
            try y.withUnsafeMutableBufferPointer { yp in
                for i in 0..<g.m {
                    if core.side == .left, bf16 {
                        try core.forEachTile(slab: i, scratch: &tileScratch, tileElements: tileElements) { t0, t1, tile in
                            // y_i (+)= Z_i[:, t0..<t1] · tile in bf16 (the tile, rows t0..<t1 of L_i, rounded into pairs).
                            let panels = try PanelMatrix.bfloat16DotTransposed(rows: t1 - t0, columns: g.a, from: tile)
                            let part = try panels.multiply(StridedBlock.gather(zp.baseAddress! + i * nr + t0, ld: width,
                                                                               rows: count, columns: t1 - t0))
                            StridedBlock.scatter(part, into: yp.baseAddress! + i * g.a, ld: g.outFeatures, accumulate: t0 > 0)
                        }
                    } else if core.side == .right {
                        trainableCore.value.withUnsafeBufferPointer { lp in
                            // SAFETY: Z_i is N×n·r at column i·n·r (ld m·n·r); L_i is n·r×a; y_i is N×a at column i·a (ld O).
                            BLAS.gemm(transposeA: false, transposeB: false, m: count, n: g.a, k: nr,
                                      a: zp.baseAddress! + i * nr, lda: width,
                                      b: lp.baseAddress! + i * nr * g.a, ldb: g.a,
                                      c: yp.baseAddress! + i * g.a, ldc: g.outFeatures)
                        }
                    } else {
                        core.forEachTile(slab: i, scratch: &tileScratch, tileElements: tileElements) { t0, t1, tile in
                            // SAFETY: Z_i's columns t0..<t1 are N×(t1−t0) (ld m·n·r); the tile is rows t0..<t1 of L_i
                            // ((t1−t0)×a); y_i (N×a at column i·a, ld O) accumulates over the tiles.
                            BLAS.gemm(transposeA: false, transposeB: false, m: count, n: g.a, k: t1 - t0,
                                      a: zp.baseAddress! + i * nr + t0, lda: width,
                                      b: tile, ldb: g.a,
                                      beta: t0 == 0 ? 0 : 1, c: yp.baseAddress! + i * g.a, ldc: g.outFeatures)
                        }
                    }
                }
            }
        }
        if let b = bias { try y.addRowVector(b.value) }
        if keepForBackward {
            let rightTrains = core.side == .left && trainableCore.trainable
            cachedInput = rightTrains || (singular?.trainable ?? false) ? rows : nil
            cachedZ = core.side == .right && trainableCore.trainable ? z : nil
            cachedScaledRight = rPrime
        } else {
            releaseForwardCache()
        }
        return try y.reshaped(Array(x.shape.dropLast()) + [g.outFeatures])
    }

    public func backward(_ dY: Tensor) throws -> Tensor {
        let gRows = try dY.asRows(features: outFeatures, layer: "QBTTLayer backward")
        let g = geometry
        let count = gRows.shape[0]
        let mr = g.m * g.r, nr = g.n * g.r, width = g.n * mr
        let rightTrains = core.side == .left && trainableCore.trainable
        let leftTrains = core.side == .right && trainableCore.trainable
        let sTrains = singular?.trainable ?? false
        if core.side == .left, cachedScaledRight == nil { throw LayerError.noForwardCache(layer: "QBTTLayer") }
        if rightTrains || sTrains, cachedInput?.shape[0] != count { throw LayerError.noForwardCache(layer: "QBTTLayer (input)") }
        if leftTrains, cachedZ?.shape[0] != count { throw LayerError.noForwardCache(layer: "QBTTLayer (Z)") }

        // dZ (N, m, n·r) = G_i · L_iᵀ, once.
        var dz = Tensor.zeros([count, width])
        let bf16 = computePrecision == .bf16
        try gRows.withUnsafeBufferPointer { gp in
            try dz.withUnsafeMutableBufferPointer { dp in
                for i in 0..<g.m {
                    if core.side == .left, bf16 {
                        let gi = g.m == 1 ? gRows : StridedBlock.gather(gp.baseAddress! + i * g.a, ld: g.outFeatures, rows: count, columns: g.a)
                        try core.forEachTile(slab: i, scratch: &tileScratch, tileElements: tileElements) { t0, t1, tile in
                            // dZ_i[:, t0..<t1] = G_i · tileᵀ in bf16.
                            let part = try PanelMatrix.bfloat16Dot(rows: t1 - t0, columns: g.a, from: tile).multiply(gi)
                            StridedBlock.scatter(part, into: dp.baseAddress! + i * nr + t0, ld: width)
                        }
                    } else if core.side == .right {
                        trainableCore.value.withUnsafeBufferPointer { lp in
                            // SAFETY: G_i is N×a at column i·a (ld O); L_i is n·r×a (transposed); dZ_i at column i·n·r.
                            BLAS.gemm(transposeA: false, transposeB: true, m: count, n: nr, k: g.a,
                                      a: gp.baseAddress! + i * g.a, lda: g.outFeatures,
                                      b: lp.baseAddress! + i * nr * g.a, ldb: g.a,
                                      c: dp.baseAddress! + i * nr, ldc: width)
                        }
                    } else {
                        core.forEachTile(slab: i, scratch: &tileScratch, tileElements: tileElements) { t0, t1, tile in
                            // SAFETY: G_i is N×a (ld O); the tile is rows t0..<t1 of L_i (transposed, ld a);
                            // columns t0..<t1 of dZ_i are N×(t1−t0) (ld m·n·r).
                            BLAS.gemm(transposeA: false, transposeB: true, m: count, n: t1 - t0, k: g.a,
                                      a: gp.baseAddress! + i * g.a, lda: g.outFeatures,
                                      b: tile, ldb: g.a,
                                      c: dp.baseAddress! + i * nr + t0, ldc: width)
                        }
                    }
                }
            }
        }
        if leftTrains, let z = cachedZ {
            z.withUnsafeBufferPointer { zp in
                gRows.withUnsafeBufferPointer { gp in
                    trainableCore.gradient!.withUnsafeMutableBufferPointer { dl in
                        // SAFETY: Z_i is N×n·r (ld m·n·r), G_i is N×a (ld O), dL_i is n·r×a.
                        for i in 0..<g.m {
                            BLAS.gemm(transposeA: true, transposeB: false, m: nr, n: g.a, k: count,
                                      a: zp.baseAddress! + i * nr, lda: width,
                                      b: gp.baseAddress! + i * g.a, ldb: g.outFeatures,
                                      beta: 1, c: dl.baseAddress! + i * nr * g.a, ldc: g.a)
                        }
                    }
                }
            }
        }
        let dh = g.m == 1 ? dz : BTTLayer.permuteBlocks(dz, rows: count, outer: g.m, inner: g.n, r: g.r)
        var dX: Tensor
        var ds = Tensor.zeros(sTrains ? g.singularShape : [0])
        if let rPrime = cachedScaledRight {
            if rightTrains || sTrains, let x = cachedInput {
                try accumulateTrainableRight(x: x, dh: dh, count: count, ds: &ds)
            }
            dX = BTTLayer.blockInputGradient(dh, rPrime: rPrime, geometry: g, count: count)
        } else {
            dX = Tensor.zeros([count, g.inFeatures])
            try backwardThroughFrozenRight(dh: dh, count: count, dX: &dX, ds: &ds)
        }
        if sTrains { try singular!.accumulateGradient(ds) }
        if let b = bias, b.trainable { try b.accumulateGradient(try gRows.sumRows()) }
        return try dX.reshaped(Array(dY.shape.dropLast()) + [g.inFeatures])
    }

    /// Trainable right core: P_j = x_jᵀ · dH_j; dR += P ⊙ s (or P), dS[i,j,k] += Σ_q R[j,q,i·r+k] · P_j[q,i·r+k].
    private func accumulateTrainableRight(x: Tensor, dh: Tensor, count: Int, ds: inout Tensor) throws {
        let g = geometry
        let mr = g.m * g.r, width = g.n * mr
        var p = Tensor.zeros(g.rightShape)
        BTTLayer.blockRightProducts(x: x, dh: dh, geometry: g, count: count, beta: 0, into: &p)
        let right = trainableCore.value
        let s = singular?.value
        if singular?.trainable ?? false {
            for j in 0..<g.n {
                for q in 0..<g.b {
                    let base = (j * g.b + q) * mr
                    for i in 0..<g.m {
                        for k in 0..<g.r { ds.storage[(i * g.n + j) * g.r + k] += right.storage[base + i * g.r + k] * p.storage[base + i * g.r + k] }
                    }
                }
            }
        }
        guard trainableCore.trainable else { return }
        if let s {
            for j in 0..<g.n {
                for q in 0..<g.b {
                    let base = (j * g.b + q) * mr
                    for i in 0..<g.m {
                        for k in 0..<g.r { p.storage[base + i * g.r + k] *= s.storage[(i * g.n + j) * g.r + k] }
                    }
                }
            }
        }
        try trainableCore.accumulateGradient(p)
    }

    /// Frozen right core, tile by tile of each slab j (rows q0..<q1): the S gradient from P = x_j[:, q0..<q1]ᵀ · dH_j and
    /// the unscaled tile, then dX_j[:, q0..<q1] = dH_j · R'_tileᵀ with the tile scaled by S.
    private func backwardThroughFrozenRight(dh: Tensor, count: Int, dX: inout Tensor, ds: inout Tensor) throws {
        let g = geometry
        let mr = g.m * g.r, width = g.n * mr
        let sTrains = singular?.trainable ?? false
        var p = [Float]()
        let x = cachedInput
        dh.withUnsafeBufferPointer { hp in
            dX.withUnsafeMutableBufferPointer { xp in
                for j in 0..<g.n {
                    core.forEachTile(slab: j, scratch: &tileScratch, tileElements: tileElements) { q0, q1, tile in
                        let rowsHere = q1 - q0
                        if sTrains, let x {
                            if p.count < rowsHere * mr { p = [Float](repeating: 0, count: rowsHere * mr) }
                            x.withUnsafeBufferPointer { inp in
                                p.withUnsafeMutableBufferPointer { pp in
                                    // SAFETY: x_j's columns q0..<q1 are N×(q1−q0) (ld I, transposed); dH_j is N×m·r (ld n·m·r);
                                    // P is (q1−q0)×m·r.
                                    BLAS.gemm(transposeA: true, transposeB: false, m: rowsHere, n: mr, k: count,
                                              a: inp.baseAddress! + j * g.b + q0, lda: g.inFeatures,
                                              b: hp.baseAddress! + j * mr, ldb: width,
                                              c: pp.baseAddress!, ldc: mr)
                                }
                            }
                            for q in 0..<rowsHere {
                                for i in 0..<g.m {
                                    for k in 0..<g.r {
                                        let c = q * mr + i * g.r + k
                                        ds.storage[(i * g.n + j) * g.r + k] += tile[c] * p[c]
                                    }
                                }
                            }
                        }
                        scaleRightTile(tile, slab: j, rows: rowsHere)
                        // SAFETY: dH_j is N×m·r (ld n·m·r); the tile is (q1−q0)×m·r (transposed); columns q0..<q1 of dX_j (ld I).
                        BLAS.gemm(transposeA: false, transposeB: true, m: count, n: rowsHere, k: mr,
                                  a: hp.baseAddress! + j * mr, lda: width,
                                  b: tile, ldb: mr,
                                  c: xp.baseAddress! + j * g.b + q0, ldc: g.inFeatures)
                    }
                }
            }
        }
    }
}
