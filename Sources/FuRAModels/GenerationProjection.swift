import FuRAFormats
import FuRANN
import FuRATensor

// Legend: N rows, I input features, O output features.

/// How generation reads frozen dense weights. Every kind keeps a packed copy (`PanelMatrix`) that a
/// decode step streams once for all its rows.
public enum GenerationWeightPrecision: String, Sendable, CaseIterable, Codable {
    /// The weights as they are (exact); prefill of more than 64 rows uses sgemm on the model's weights.
    case float32 = "f32"
    /// A bf16 copy: half the bytes, not bit-exact.
    case bfloat16 = "bf16"
    /// 8-bit codes per (row, block of 32) with an f32 scale (Q8_0's scheme): ~a quarter of the bytes, lossy.
    case int8 = "q8"
    /// The GGUF file's own blocks (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q6_K: `GGUFAffineCodes`), used only where they
    /// decode to exactly the model's weights (so results equal f32 up to summation order); other matrices fall
    /// back to f32. A Q4_K_M file streams about its own size per token.
    case gguf = "gguf"
    /// bf16 compute: bf16 weights times activations rounded to bf16, summed in f32, by AVX512-BF16
    /// dot products (twice the f32 multiply rate) — what PyTorch's bf16 does on such CPUs. Not
    /// bit-exact: log-probabilities move by about 1e-2.
    case bfloat16Compute = "bf16-compute"
    /// llama.cpp's arithmetic, bit for bit as its x86-64 CPU backend (AVX-512 build) computes a Llama-family
    /// model from a GGUF file: the file's f16/q4_0/q4_1/q8_0/q4_K blocks times activations quantized as llama.cpp
    /// does, its norms, rope, SwiGLU and f16 flash attention (tiled for prompts of 64 tokens or more, prompts over
    /// 512 tokens in 512-token pieces) — so greedy text is llama.cpp's. Exact for one sequence while its cache holds
    /// under 512 positions (past that llama.cpp splits a decode step's attention over its threads). Other matrices
    /// fall back to f32 (the log says which; those are then not bit-exact).
    case llamaCpp = "llama-cpp"

    /// Whether an engine of this kind re-packs changed weights in place (`GenerationModel.refreshWeights`): the float
    /// kinds; the others hold codes of a quantization or of a file's blocks.
    public var refreshesInPlace: Bool { self == .float32 || self == .bfloat16 || self == .bfloat16Compute }
}

/// A packed weight copy the generation engine multiplies by.
protocol PackedWeight {
    var byteCount: Int { get }
    /// Whether every product goes through this copy (false: an f32 copy that sgemm beats on many rows).
    var servesAllRows: Bool { get }
    /// y (N, O) = x (N, I) · Wᵀ.
    func multiply(_ x: Tensor) throws -> Tensor
}

extension PanelMatrix: PackedWeight {
    var servesAllRows: Bool { storage != .float32 }
}

extension GGMLBlockMatrix: PackedWeight {
    var servesAllRows: Bool { true }
}

/// One projection of the generation forward: the model's `LinearLayer` itself, or a packed copy
/// of a frozen dense weight.
struct GenerationProjection {
    let layer: (any LinearLayer)?
    /// A bare f32 weight (O, I) for many rows when there is no layer (the LM head).
    private(set) var dense: Tensor?
    let panel: (any PackedWeight)?
    private(set) var bias: Tensor?
    /// The weights (O_i, I) and biases the packed copy and `bias` were made from, stacked in order (for `refresh`),
    /// and the `Parameter.version` of each when it was last packed.
    let sources: [Parameter]
    let biasSources: [Parameter?]
    private var packedVersions: [Int] = []

    /// Packs a frozen `DenseLinear` with `packer` (named `name` for GGUF lookup); any other layer (or
    /// no packer) runs through the layer itself.
    init(_ layer: any LinearLayer, name: String, packer: GenerationPacker?) throws {
        self.layer = layer; dense = nil
        if let packer, let d = layer as? DenseLinear, !d.weight.trainable, !(d.bias?.trainable ?? false) {
            panel = try packer.panel([(d.weight.value, name)])
            bias = d.bias?.value
            sources = [d.weight]; biasSources = [d.bias]
            packedVersions = Self.versions(sources, biasSources)
        } else {
            panel = nil; bias = nil; sources = []; biasSources = []
        }
    }

    /// A trainable bare weight (O, I), read as it is.
    init(dense weight: Parameter) {
        layer = nil; dense = weight.value; panel = nil; bias = nil; sources = [weight]; biasSources = []
        packedVersions = Self.versions(sources, biasSources)
    }

    /// Bare weights (O_i, I) stacked into one matrix, with their biases (none, or one per part; nil parts add zeros)
    /// (the LM head, fused groups). `keepDense: false` drops the f32 weight (a fused copy whose members serve many rows).
    init(parts: [(weight: Parameter, name: String?)], biases: [Parameter?] = [], packer: GenerationPacker, keepDense: Bool) throws {
        layer = nil
        sources = parts.map(\.weight); biasSources = biases
        bias = try Self.stackedBias(sources, biases)
        dense = keepDense && parts.count == 1 ? parts[0].weight.value : nil
        panel = try packer.panel(parts.map { ($0.weight.value, $0.name) })
        packedVersions = Self.versions(sources, biasSources)
    }

    /// The biases of `parts` side by side (zeros for a part without one), or nil when none has one.
    static func stackedBias(_ parts: [Parameter], _ biases: [Parameter?]) throws -> Tensor? {
        guard biases.contains(where: { $0 != nil }) else { return nil }
        let values = zip(parts, biases).flatMap { w, b in b?.value.storage ?? [Float](repeating: 0, count: w.value.shape[0]) }
        return try Tensor(shape: [values.count], data: values)
    }

    /// Copies the current values of `sources` into the packed copy (in place), the bias and the dense weight: after
    /// the model's weights changed (GRPO's rollout weights after an update). Projections that run through their
    /// layer read it live and need nothing. Only the parts whose parameters changed since they were packed are re-packed (each alone where its rows start
    /// on a panel boundary).
    mutating func refresh() throws {
        let versions = Self.versions(sources, biasSources)
        guard versions != packedVersions else { return }
        if dense != nil, sources.count == 1 { dense = sources[0].value }
        if bias != nil { bias = try Self.stackedBias(sources, biasSources) }
        guard let panel else { packedVersions = versions; return }
        guard let matrix = panel as? PanelMatrix else {
            throw GenerationError.badInput(reason: "a packed copy of file blocks or codes cannot be refreshed in place; build a new engine")
        }
        let starts = sources.reduce(into: [0]) { $0.append($0.last! + $1.value.shape[0]) }
        if starts.dropLast().allSatisfy({ $0 % PanelMatrix.panelWidth == 0 }) {
            for (k, part) in sources.enumerated() where part.version != packedVersions[k] { try matrix.repack(part.value, firstRow: starts[k]) }
        } else {
            try matrix.repack(sources.count == 1 ? sources[0].value
                              : Tensor(shape: [starts.last!, matrix.columns], data: sources.flatMap(\.value.storage)))
        }
        packedVersions = versions
    }

    /// The versions of the weight sources, then of the bias sources (−1 for none).
    static func versions(_ sources: [Parameter], _ biases: [Parameter?]) -> [Int] {
        sources.map(\.version) + biases.map { $0?.version ?? -1 }
    }

    /// Whether `apply` on `rows` rows reads the packed copy: always for compressed kinds, and for f32
    /// up to 64 rows (beyond that sgemm on the model's weights is faster than the panel kernel).
    func usesPanel(rows: Int) -> Bool {
        guard let panel else { return false }
        return panel.servesAllRows || rows <= PanelMatrix.rowChunk || (layer == nil && dense == nil)
    }

    /// x (N, I) → y (N, O).
    func apply(_ x: Tensor) throws -> Tensor {
        let rows = x.count / max(1, x.shape.last ?? 1)
        var y: Tensor
        if let panel, usesPanel(rows: rows) {
            y = try panel.multiply(x)
        } else if let layer {
            return try layer.forward(x, keepForBackward: false)
        } else if let dense {
            y = try Tensor.matmul(x, dense, transposeB: true)
        } else {
            throw GenerationError.badInput(reason: "projection without weights")
        }
        if let bias {
            let o = bias.count
            y.withUnsafeMutableBufferPointer { py in bias.withUnsafeBufferPointer { pb in
                for r in 0..<(py.count / max(1, o)) { for j in 0..<o { py[r * o + j] += pb[j] } }
            } }
        }
        return y
    }
}

/// Projections that read the same input (q, k, v; gate, up): one fused packed matrix when every
/// member is a frozen dense layer (one pass over x, one parallel dispatch), else the members one by one.
struct GenerationProjectionGroup {
    private(set) var members: [GenerationProjection]
    private(set) var fused: GenerationProjection?
    let widths: [Int]

    /// `GenerationProjection.refresh` of the fused copy and of every member.
    mutating func refresh() throws {
        try fused?.refresh()
        for i in members.indices { try members[i].refresh() }
    }

    init(_ layers: [(layer: any LinearLayer, name: String)], packer: GenerationPacker) throws {
        widths = layers.map(\.layer.outFeatures)
        let dense = layers.compactMap { $0.layer as? DenseLinear }
        var fusedCopy: GenerationProjection?
        if dense.count == layers.count, layers.count > 1,
           dense.allSatisfy({ !$0.weight.trainable && !($0.bias?.trainable ?? false) }),
           Set(dense.map(\.inFeatures)).count == 1 {
            fusedCopy = try GenerationProjection(parts: zip(dense, layers).map { ($0.weight, $1.name) }, biases: dense.map(\.bias),
                                                 packer: packer, keepDense: false)
        }
        fused = fusedCopy
        // Rows the fused copy does not serve go through the layers themselves (f32 sgemm).
        members = try layers.map { try GenerationProjection($0.layer, name: $0.name, packer: fusedCopy == nil ? packer : nil) }
    }

    /// x (N, I) → one (N, O_i) per member.
    func apply(_ x: Tensor) throws -> [Tensor] {
        guard let y = try applyFused(x) else { return try members.map { try $0.apply(x) } }
        let total = widths.reduce(0, +), n = y.count / max(1, total)
        var offset = 0
        return widths.map { w in
            let part = y.withUnsafeBufferPointer { py in
                Tensor.filled([n, w]) { pp in for r in 0..<n { (pp + r * w).update(from: py.baseAddress! + r * total + offset, count: w) } }
            }
            offset += w
            return part
        }
    }

    /// x (N, I) → the members' outputs side by side, (N, ΣO_i), when the fused copy serves N rows; nil otherwise.
    func applyFused(_ x: Tensor) throws -> Tensor? {
        let rows = x.count / max(1, x.shape.last ?? 1)
        guard let fused, fused.usesPanel(rows: rows) else { return nil }
        return try fused.apply(x)
    }
}
