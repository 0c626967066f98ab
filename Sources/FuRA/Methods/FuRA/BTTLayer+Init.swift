import FuRANN
import FuRATensor

// Legend: m output blocks of size a (O = m·a); n input blocks of size b (I = n·b); r rank per block.

/// The resolved options of one BTT layer (what `ConversionOptions` becomes for one module).
public struct BTTLayerOptions: Equatable, Sendable {
    public var decompMode: DecompMode = .outputOneBlock
    public var rank: BTTRank = .full
    public var sMergedTo: SMergedTo? = .keepTrainable
    public var trainPosition: TrainPosition = .small
    public var convertMode: ConvertMode = .svd
    public var trainBias: Bool = true
    /// (blocks, block size) of the output side, nil ⇒ closest factor pair.
    public var outputFactorization: FactorPair?
    /// (blocks, block size) of the input side, nil ⇒ closest factor pair.
    public var inputFactorization: FactorPair?
    /// The precision of the per-block SVD / QR (factors are always stored in `Float`).
    public var precision: FactorizationPrecision = .double

    public init(decompMode: DecompMode = .outputOneBlock, rank: BTTRank = .full, sMergedTo: SMergedTo? = .keepTrainable,
                trainPosition: TrainPosition = .small, convertMode: ConvertMode = .svd, trainBias: Bool = true,
                outputFactorization: FactorPair? = nil, inputFactorization: FactorPair? = nil,
                precision: FactorizationPrecision = .double) {
        self.decompMode = decompMode; self.rank = rank; self.sMergedTo = sMergedTo; self.trainPosition = trainPosition
        self.convertMode = convertMode; self.trainBias = trainBias; self.outputFactorization = outputFactorization
        self.inputFactorization = inputFactorization; self.precision = precision
    }

    /// The block grid for a d_out × d_in weight.
    public func geometry(inFeatures: Int, outFeatures: Int, module: String? = nil) throws -> BTTGeometry {
        try BTTGeometry.resolve(inFeatures: inFeatures, outFeatures: outFeatures, decompMode: decompMode, rank: rank,
                                outputFactorization: outputFactorization.map { ($0.blocks, $0.size) },
                                inputFactorization: inputFactorization.map { ($0.blocks, $0.size) }, module: module)
    }
}

/// A (blocks, block size) pair.
public struct FactorPair: Equatable, Sendable, Codable {
    public var blocks: Int
    public var size: Int
    public init(_ blocks: Int, _ size: Int) { self.blocks = blocks; self.size = size }
}

extension BTTLayer {
    /// Converts a dense weight losslessly (at full rank) into a BTT layer (Docs/factorization.md §7) and sets its
    /// trainability (Docs/factorization.md §9: the cores by `trainPosition`, `btt_s` iff S is `keep_trainable`, bias by `trainBias`).
    ///
    /// - Parameters: `weight` (O, I); `bias` (O,) or nil.
    public convenience init(converting weight: Tensor, bias: Tensor?, options: BTTLayerOptions = BTTLayerOptions(),
                            module: String = "BTTLayer") throws {
        let (o, i) = try weight.dims2("\(module) weight")
        if let b = bias, b.shape != [o] {
            throw ConversionError.shapeMismatch(module: module, tensor: "bias", expected: [o], actual: b.shape)
        }
        // Non-finite weights: every block factorization rejects them, so the weight is scanned (and the entries
        // counted for the message) only when one fails, instead of in a pass of its own.
        func nonFiniteCount() -> Int {
            weight.storage.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } + (bias?.storage.reduce(0) { $0 + ($1.isFinite ? 0 : 1) } ?? 0)
        }
        if let b = bias, b.storage.contains(where: { !$0.isFinite }) {
            throw ConversionError.nonFiniteWeight(module: module, count: nonFiniteCount())
        }
        let geometry = try options.geometry(inFeatures: i, outFeatures: o, module: module)
        let target = try geometry.mergeTarget(options.sMergedTo, trainPosition: options.trainPosition,
                                              convertMode: options.convertMode, module: module)
        let cores: (left: Tensor, right: Tensor, singular: Tensor?)
        do {
            cores = try Self.factorBlocks(weight, geometry: geometry, target: target, convertMode: options.convertMode,
                                          precision: options.precision)
        } catch {
            let bad = nonFiniteCount()
            if bad > 0 { throw ConversionError.nonFiniteWeight(module: module, count: bad) }
            throw error
        }
        try self.init(geometry: geometry, decompMode: options.decompMode, right: cores.right, left: cores.left,
                      singular: cores.singular, bias: bias, module: module)
        configureTrainability(trainPosition: options.trainPosition, trainBias: options.trainBias,
                              trainSingularValues: target == .keepTrainable)
    }

    /// Per-block SVD (or QR) of W, merged per `target` and packed in the reference's index orders (Docs/factorization.md §7).
    ///
    /// Blocks run in parallel with `Threading.parallelFor`, each factorization on one BLAS thread.
    /// - Parameter weight: (m·a, n·b). Returns `btt_l` (m, r·n, a), `btt_r` (n, b, m·r), `btt_s` (m, n, r) or nil.
    static func factorBlocks(_ weight: Tensor, geometry g: BTTGeometry, target: MergeTarget, convertMode: ConvertMode,
                             precision: FactorizationPrecision) throws -> (left: Tensor, right: Tensor, singular: Tensor?) {
        // At r ≤ min(a, b) every slot is written below; only rank padding (r > min(a, b)) needs zeros.
        func cores(_ shape: [Int]) throws -> Tensor {
            guard g.usedRank == g.r else { return Tensor.zeros(shape) }
            let count = shape.reduce(1, *)
            return try Tensor(shape: shape, data: [Float](unsafeUninitializedCapacity: count) { _, n in n = count })
        }
        var left = try cores(g.leftShape)
        var right = try cores(g.rightShape)
        var singular: Tensor? = target.keepsSingularValues ? try cores(g.singularShape) : nil
        var sScratch = singular ?? Tensor.zeros([1])
        let blocks = g.m * g.n
        let failures = UnsafeMutableBufferPointer<TensorError?>.allocate(capacity: blocks)
        failures.initialize(repeating: nil)
        defer { failures.deallocate() }
        left.withUnsafeMutableBufferPointer { lp in
            right.withUnsafeMutableBufferPointer { rp in
                sScratch.withUnsafeMutableBufferPointer { sp in
                    let l = lp.baseAddress!, r = rp.baseAddress!
                    let s = target.keepsSingularValues ? sp.baseAddress : nil
                    Threading.parallelFor(blocks) { start, end in
                        let workspace = BlockSVDWorkspace(a: g.a, b: g.b, convertMode: convertMode, precision: precision)
                        for t in start..<end {
                            do {
                                try factorOneBlock(weight, t: t, g: g, target: target, convertMode: convertMode,
                                                   precision: precision, workspace: workspace, left: l, right: r, singular: s)
                            } catch {
                                failures[t] = (error as? TensorError) ?? .invalidArgument(operation: "block factorization", message: "\(error)")
                            }
                        }
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure }
        if singular != nil { singular = sScratch }
        return (left, right, singular)
    }

    /// Factors block t = i·n + j, `W_ij[p, q] = W[i·a + p, j·b + q]`, and writes its slots of the packed cores.
    private static func factorOneBlock(
        _ weight: Tensor, t: Int, g: BTTGeometry, target: MergeTarget, convertMode: ConvertMode,
        precision: FactorizationPrecision, workspace: BlockSVDWorkspace?, left: UnsafeMutablePointer<Float>,
        right: UnsafeMutablePointer<Float>, singular: UnsafeMutablePointer<Float>?
    ) throws {
        let i = t / g.n, j = t % g.n
        let (a, b, r, use) = (g.a, g.b, g.r, g.usedRank)
        let inFeatures = g.inFeatures
        if let ws = workspace {
            try factorOneBlockDouble(weight, i: i, j: j, g: g, target: target, workspace: ws, left: left, right: right, singular: singular)
            return
        }
        var block = Tensor.zeros([a, b])
        for p in 0..<a {
            for q in 0..<b { block.storage[p * b + q] = weight.storage[(i * a + p) * inFeatures + j * b + q] }
        }
        // core_l[p, k] and core_r[k, q] for k < use, in Float.
        var coreL = [Float](repeating: 0, count: a * use)
        var coreR = [Float](repeating: 0, count: use * b)
        switch convertMode {
        case .svd:
            let f = try LAPACK.svd(block, precision: precision)
            let k = min(a, b)
            for c in 0..<use {
                let sv = max(0, f.s.storage[c])
                let (uScale, vScale): (Float, Float)
                switch target {
                case .split: (uScale, vScale) = (sv.squareRoot(), sv.squareRoot())
                case .output: (uScale, vScale) = (sv, 1)
                case .input: (uScale, vScale) = (1, sv)
                case .keepFrozen, .keepTrainable, .none: (uScale, vScale) = (1, 1)
                }
                for p in 0..<a { coreL[p * use + c] = f.u.storage[p * k + c] * uScale }
                for q in 0..<b { coreR[c * b + q] = f.vt.storage[c * b + q] * vScale }
                if let s = singular { s[(i * g.n + j) * r + c] = sv }
            }
        case .qr:
            if a >= b {
                // LQ: Wᵀ = Qp·Rp ⇒ W = Rpᵀ·Qpᵀ; core_l = Rpᵀ (a×b), core_r = Qpᵀ (b×b).
                let f = try LAPACK.qr(try block.transposed())
                for c in 0..<use {
                    for p in 0..<a { coreL[p * use + c] = f.r.storage[c * a + p] }
                    for q in 0..<b { coreR[c * b + q] = f.q.storage[q * b + c] }
                }
            } else {
                // QR: W = Q·R; core_l = Q (a×a), core_r = R (a×b).
                let f = try LAPACK.qr(block)
                for c in 0..<use {
                    for p in 0..<a { coreL[p * use + c] = f.q.storage[p * a + c] }
                    for q in 0..<b { coreR[c * b + q] = f.r.storage[c * b + q] }
                }
            }
        }
        // Pack: btt_l[i, j·r + k, p] = core_l[p, k]; btt_r[j, q, i·r + k] = core_r[k, q].
        let mr = g.m * r
        for c in 0..<use {
            let lRow = left + (i * g.n * r + j * r + c) * a
            for p in 0..<a { lRow[p] = coreL[p * use + c] }
            for q in 0..<b { right[(j * b + q) * mr + i * r + c] = coreR[c * b + q] }
        }
    }

    /// The `Double` SVD path of `factorOneBlock` through a reused workspace (same factors as `LAPACK.svd`).
    private static func factorOneBlockDouble(
        _ weight: Tensor, i: Int, j: Int, g: BTTGeometry, target: MergeTarget, workspace ws: BlockSVDWorkspace,
        left: UnsafeMutablePointer<Float>, right: UnsafeMutablePointer<Float>, singular: UnsafeMutablePointer<Float>?
    ) throws {
        let (a, b) = (g.a, g.b)
        let inFeatures = g.inFeatures
        try weight.withUnsafeBufferPointer { wp in
            let origin = wp.baseAddress! + i * a * inFeatures + j * b
            switch ws {
            case .tall(let tall):
                try tall.factor { rowMajor in
                    // Row-major block: A[p, q] = W[i·a + p, j·b + q] at p·b + q.
                    for p in 0..<a {
                        let row = origin + p * inFeatures, out = rowMajor + p * b
                        for q in 0..<b { out[q] = Double(row[q]) }
                    }
                }
            case .general(let general):
                try general.factor { col in
                    // Column-major block: A[p, q] = W[i·a + p, j·b + q] at p + q·a.
                    for p in 0..<a {
                        let row = origin + p * inFeatures
                        for q in 0..<b { col[p + q * a] = Double(row[q]) }
                    }
                }
            }
        }
        switch ws {
        case .tall(let tall): pack(u: tall.u, s: tall.s, vt: tall.vt, i: i, j: j, g: g, target: target, left: left, right: right, singular: singular)
        case .general(let general): pack(u: general.u, s: general.s, vt: general.vt, i: i, j: j, g: g, target: target, left: left, right: right, singular: singular)
        }
    }

    /// Writes block (i, j)'s factors into the packed cores, merging S per `target`.
    ///
    /// - Parameters: `u` column-major (a, k); `s` (k,); `vt` column-major (k, b); k = min(a, b).
    private static func pack(
        u: [Double], s: [Double], vt: [Double], i: Int, j: Int, g: BTTGeometry, target: MergeTarget,
        left: UnsafeMutablePointer<Float>, right: UnsafeMutablePointer<Float>, singular: UnsafeMutablePointer<Float>?
    ) {
        let (a, b, r, use, k) = (g.a, g.b, g.r, g.usedRank, min(g.a, g.b))
        let mr = g.m * r
        u.withUnsafeBufferPointer { u in
            vt.withUnsafeBufferPointer { vt in
                for c in 0..<use {
                    let sv = max(0, Float(s[c]))
                    let (uScale, vScale): (Float, Float)
                    switch target {
                    case .split: (uScale, vScale) = (sv.squareRoot(), sv.squareRoot())
                    case .output: (uScale, vScale) = (sv, 1)
                    case .input: (uScale, vScale) = (1, sv)
                    case .keepFrozen, .keepTrainable, .none: (uScale, vScale) = (1, 1)
                    }
                    // btt_l[i, j·r + c, p] = U[p, c]·uScale; btt_r[j, q, i·r + c] = Vᵀ[c, q]·vScale.
                    let lRow = left + (i * g.n * r + j * r + c) * a
                    let uColumn = u.baseAddress! + c * a
                    for p in 0..<a { lRow[p] = Float(uColumn[p]) * uScale }
                    for q in 0..<b { right[(j * b + q) * mr + i * r + c] = Float(vt[c + q * k]) * vScale }
                    if let s = singular { s[(i * g.n + j) * r + c] = sv }
                }
            }
        }
    }
}

/// The per-thread buffers of the `Double` SVD path: Cholesky-QR2 for tall blocks (a ≥ 2b), `dgesdd` otherwise.
enum BlockSVDWorkspace {
    case tall(TallSVDWorkspace)
    case general(SVDWorkspace)

    /// nil when the blocks do not take the `Double` SVD path (QR mode, `Float` precision) or the shape is empty.
    init?(a: Int, b: Int, convertMode: ConvertMode, precision: FactorizationPrecision) {
        guard convertMode == .svd, precision == .double else { return nil }
        if a >= 2 * b, let tall = try? TallSVDWorkspace(rows: a, columns: b) {
            self = .tall(tall)
        } else if let general = try? SVDWorkspace(rows: a, columns: b) {
            self = .general(general)
        } else {
            return nil
        }
    }
}
