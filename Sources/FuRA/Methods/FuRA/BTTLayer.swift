import FuRANN
import FuRATensor

// Legend: N rows; m output blocks of size a (O = m·a); n input blocks of size b (I = n·b); r rank per block.

/// The FuRA layer: a dense weight held as a block tensor train `W_ij = U_ij · diag(S_ij) · V_ijᵀ` (Docs/factorization.md).
///
/// Parameters (Docs/factorization.md §2, names are the reference's checkpoint keys):
/// - `btt_r` (n, b, m·r) with `btt_r[j, q, i·r + k] = V_ijᵀ[k, q]`,
/// - `btt_l` (m, r·n, a) with `btt_l[i, j·r + k, p] = U_ij[p, k]`,
/// - `btt_s` (m, n, r) with `btt_s[i, j, k] = S_ij[k]` (only when S is kept separately),
/// - `bias` (O,).
///
/// The forward is `y[:, i·a+p] = Σ_j Σ_k btt_l[i, j·r+k, p] · s[i,j,k] · Σ_q btt_r[j, q, i·r+k] · x[:, j·b+q] + bias`.
/// It runs as n strided products `H_j = x_j · R'_j` (R' = btt_r with S folded in, a tiny b × m·r tensor per block)
/// followed by m products `Z_i · btt_l[i]`; for `output_one_block` (m = 1) H already is Z and the second step is
/// one product (N × n·r)·(n·r × a). When the left core is frozen and the weight is smaller than the activations,
/// the forward instead forms W_eff = blockdiag(R')·L and runs y = x·W_eff (`BTTLayer+Fused.swift`).
/// The backward forms `dZ = G · Lᵀ` once and reuses it for dX and for the gradients of the right core and of S
/// (Docs/factorization.md §12); no work is done for a frozen left core. The n small block products run on `SmallProduct`'s packed
/// SIMD kernels (`BTTLayer+Blocks.swift`) when the blocks are many and small, with dX_j and the right-core gradient
/// fused in one pass over dH; one sgemm per block otherwise. With one output block and the packed kernels, dZ is
/// formed 64 rows at a time and consumed at once (`fusedBackwardProducts`), never whole; otherwise whole
/// (`BTTLayer+Backward.swift`).
public final class BTTLayer: LinearLayer {
    /// The block grid and rank.
    public let geometry: BTTGeometry
    /// The decomposition mode this layer was built with (for reports and adapter files).
    public let decompMode: DecompMode
    /// `btt_r` (n, b, m·r).
    public let right: Parameter
    /// `btt_l` (m, r·n, a).
    public let left: Parameter
    /// `btt_s` (m, n, r), or nil when S is merged into a core (or QR conversion).
    public let singular: Parameter?
    /// `bias` (O,), or nil.
    public let bias: Parameter?

    public var inFeatures: Int { geometry.inFeatures }
    public var outFeatures: Int { geometry.outFeatures }

    /// Kept by the last forward: x rows (N, I), when the right core or S trains.
    var cachedInput: Tensor?
    /// Kept by the last forward: Z (N, m·n·r), when the left core trains.
    var cachedZ: Tensor?
    /// Kept by the last forward: R' = btt_r with S folded in (n, b, m·r).
    var cachedScaledRight: Tensor?
    /// Kept by the last forward on the packed path: R'_jᵀ packed for `dH_j · R'_jᵀ`.
    var cachedPackedTransposed: [Float]?
    /// R'_j packed for `x_j · R'_j`, rebuilt by every forward on the packed path (the buffer is reused).
    var packedRight: [Float] = []
    /// How the per-block products run: chosen from the block shapes (`BTTBlockProducts.preferred`); tests and
    /// fura-bench switch it to compare the packed kernels with their sgemm twin (same numbers up to rounding).
    public var blockProducts: BTTBlockProducts
    /// How the forward forms y: nil chooses per call by multiply-add count (`BTTForwardRoute.preferred`); tests and
    /// fura-bench force a route to compare them. Ignored (block products) when the left core trains.
    public var forwardRoute: BTTForwardRoute?
    /// The arithmetic of the large products with L (forward through W_eff, dZ = G·Lᵀ): f32, or bf16 on AVX512-BF16
    /// with f32 sums (`ComputePrecision`). The small trainable products and all gradients stay f32.
    public var computePrecision = ComputePrecision.f32
    /// L (n·r × a) packed for dZ = G·Lᵀ at bf16, kept while L does not change (one output block only).
    let leftPanels = PackingCache<PanelMatrix>()
    /// Reused work buffers (H in forward, dZ in backward), so repeated steps neither allocate nor zero them.
    var scratchForward = Tensor.zeros([0])
    var scratchBackward = Tensor.zeros([0])

    /// Moves a reusable buffer of `shape` out of `slot` (uniquely owned, contents undefined), or allocates one.
    static func take(_ slot: inout Tensor, _ shape: [Int]) -> Tensor {
        guard slot.shape == shape else { return Tensor.zeros(shape) }
        let t = slot
        slot = Tensor.zeros([0])
        return t
    }

    /// A layer over existing cores (for adapter loading and tests).
    ///
    /// - Parameters: `right` (n, b, m·r), `left` (m, r·n, a), `singular` (m, n, r) or nil, `bias` (m·a,) or nil.
    public init(geometry: BTTGeometry, decompMode: DecompMode = .outputOneBlock, right: Tensor, left: Tensor,
                singular: Tensor?, bias: Tensor?, module: String = "BTTLayer") throws {
        func check(_ t: Tensor, _ name: String, _ shape: [Int]) throws {
            guard t.shape == shape else {
                throw ConversionError.shapeMismatch(module: module, tensor: name, expected: shape, actual: t.shape)
            }
        }
        guard geometry.m > 0, geometry.a > 0, geometry.n > 0, geometry.b > 0, geometry.r > 0 else {
            throw ConversionError.invalidValue(module: module, option: "geometry", value: "\(geometry)",
                                               expected: "positive m, a, n, b, r")
        }
        try check(right, "btt_r", geometry.rightShape)
        try check(left, "btt_l", geometry.leftShape)
        if let s = singular { try check(s, "btt_s", geometry.singularShape) }
        if let b = bias { try check(b, "bias", [geometry.outFeatures]) }
        self.geometry = geometry
        self.decompMode = decompMode
        self.blockProducts = BTTBlockProducts.preferred(for: geometry)
        self.right = Parameter(name: "btt_r", value: right)
        self.left = Parameter(name: "btt_l", value: left)
        self.singular = singular.map { Parameter(name: "btt_s", value: $0) }
        self.bias = bias.map { Parameter(name: "bias", value: $0) }
    }

    public var parameters: [(name: String, parameter: Parameter)] {
        var list: [(name: String, parameter: Parameter)] = [("btt_r", right), ("btt_l", left)]
        if let s = singular { list.append(("btt_s", s)) }
        if let b = bias { list.append(("bias", b)) }
        return list
    }

    public var denseBias: Tensor? { bias?.value }

    public func releaseForwardCache() {
        cachedInput = nil
        cachedZ = nil
        cachedScaledRight = nil
        cachedPackedTransposed = nil
        scratchForward = Tensor.zeros([0])
        scratchBackward = Tensor.zeros([0])
    }

    /// Sets which tensors train (Docs/factorization.md §9): the cores by `trainPosition` and their element counts,
    /// `btt_s` by `trainSingularValues`, `bias` by `trainBias`.
    public func configureTrainability(trainPosition: TrainPosition, trainBias: Bool, trainSingularValues: Bool) {
        let sides = geometry.trainableSides(trainPosition)
        left.trainable = sides.left
        right.trainable = sides.right
        singular?.trainable = trainSingularValues
        bias?.trainable = trainBias
    }

    /// R' (n, b, m·r): `btt_r[j, q, i·r+k] · s[i, j, k]`, or `btt_r` itself without S.
    func scaledRight() -> Tensor {
        guard let s = singular?.value else { return right.value }
        let g = geometry
        var out = right.value
        let mr = g.m * g.r
        s.withUnsafeBufferPointer { sp in
            out.withUnsafeMutableBufferPointer { rp in
                for j in 0..<g.n {
                    for q in 0..<g.b {
                        let row = rp.baseAddress! + (j * g.b + q) * mr
                        for i in 0..<g.m {
                            for k in 0..<g.r { row[i * g.r + k] *= sp[(i * g.n + j) * g.r + k] }
                        }
                    }
                }
            }
        }
        return out
    }

    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let rows = try x.asRows(features: inFeatures, layer: "BTTLayer")
        let g = geometry
        let count = rows.shape[0]
        let packed = blockProducts == .packed
        let route = left.trainable ? .blockProducts : forwardRoute ?? BTTForwardRoute.preferred(for: g, rows: count)
        var y: Tensor
        var z: Tensor?
        if route == .effectiveWeight {
            y = try effectiveWeightForward(rows)
        } else {
            (y, z) = blockForward(rows, packed: packed)
        }
        if let b = bias { try y.addRowVector(b.value) }
        if keepForBackward {
            let needInput = right.trainable || (singular?.trainable ?? false)
            cachedInput = needInput ? rows : nil
            cachedZ = left.trainable ? z : nil
            cachedScaledRight = packed ? nil : scaledRight()
            if packed {
                var t = cachedPackedTransposed ?? []
                cachedPackedTransposed = nil
                packRight(transposed: true, into: &t)
                cachedPackedTransposed = t
            } else {
                cachedPackedTransposed = nil
            }
        } else {
            releaseForwardCache()
        }
        if let z, g.m == 1, cachedZ == nil { scratchForward = z }   // H is Z: its buffer serves the next call
        return try y.reshaped(Array(x.shape.dropLast()) + [g.outFeatures])
    }

    public func backward(_ dY: Tensor) throws -> Tensor {
        let gRows = try dY.asRows(features: outFeatures, layer: "BTTLayer backward")
        let g = geometry
        let count = gRows.shape[0]
        let mr = g.m * g.r, nr = g.n * g.r, width = g.n * mr
        guard cachedScaledRight != nil || cachedPackedTransposed != nil else {
            throw LayerError.noForwardCache(layer: "BTTLayer")
        }
        let needP = right.trainable || (singular?.trainable ?? false)
        if needP, cachedInput?.shape[0] != count { throw LayerError.noForwardCache(layer: "BTTLayer (input)") }
        if left.trainable, cachedZ?.shape[0] != count { throw LayerError.noForwardCache(layer: "BTTLayer (Z)") }

        // dL_i += Z_iᵀ · G_i.
        if left.trainable, let z = cachedZ {
            z.withUnsafeBufferPointer { zp in
                gRows.withUnsafeBufferPointer { gp in
                    left.gradient!.withUnsafeMutableBufferPointer { dl in
                        // SAFETY: Z_i is N×n·r (ld m·n·r), G_i is N×a (ld O), dL_i is n·r×a.
                        Self.forEachBlock(g.m) { i in
                            BLAS.gemm(transposeA: true, transposeB: false, m: nr, n: g.a, k: count,
                                      a: zp.baseAddress! + i * nr, lda: width,
                                      b: gp.baseAddress! + i * g.a, ldb: g.outFeatures,
                                      beta: 1, c: dl.baseAddress! + i * nr * g.a, ldc: g.a)
                        }
                    }
                }
            }
        }
        let dX: Tensor
        if g.m == 1, g.a <= Self.panelProductLimit, let packedT = cachedPackedTransposed {
            // dH = G·Lᵀ 64 rows at a time, each tile consumed by the block products while it is in L2.
            dX = try fusedBackwardProducts(gRows, packedTransposed: packedT, x: needP ? cachedInput : nil)
        } else {
            dX = try unfusedBackwardProducts(gRows, needP: needP)
        }
        if let b = bias, b.trainable { try b.accumulateGradient(try gRows.sumRows()) }
        return try dX.reshaped(Array(dY.shape.dropLast()) + [g.inFeatures])
    }

    /// Runs `body(block)` for every block in `0..<count`: one block on the calling thread (its product is then split
    /// across threads by `BLAS.gemm`), several blocks side by side in contiguous chunks, one serial product each.
    static func forEachBlock(_ count: Int, _ body: (Int) -> Void) {
        if count == 1 { body(0); return }
        Threading.parallelFor(count) { start, end in
            for block in start..<end { body(block) }
        }
    }

    /// Moves r-wide chunks from (rows, outer, inner, r) to (rows, inner, outer, r).
    static func permuteBlocks(_ t: Tensor, rows: Int, outer: Int, inner: Int, r: Int) -> Tensor {
        var out = Tensor.zeros(t.shape)
        let width = outer * inner * r
        t.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                Threading.parallelFor(rows, minimumPerChunk: 64) { start, end in
                    for row in start..<end {
                        let s = src.baseAddress! + row * width, d = dst.baseAddress! + row * width
                        for o in 0..<outer {
                            for i in 0..<inner {
                                (d + (i * outer + o) * r).update(from: s + (o * inner + i) * r, count: r)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
