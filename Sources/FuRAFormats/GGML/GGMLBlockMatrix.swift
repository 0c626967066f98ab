import FuRATensor

// Legend: N rows of x, O rows of W (output features), I columns of W (input features).

/// A weight matrix (O, I) kept in its GGML blocks and multiplied bit for bit as llama.cpp's x86-64 CPU
/// backend (AVX-512 build) does: each row of x is first turned into the weight type's activation form
/// (`GGMLActivationRow`), then each output sums exact integer block products with f32 fused multiply-adds in
/// the order of the kernel llama.cpp picks for that type and row count:
///
/// - q8_0 (`ggml_vec_dot_q8_0_q8_0`; tinyBLAS for N ≥ 2, the same arithmetic): 8 lane sums of 4 consecutive
///   products per block, acc[l] = fma(d·dₐ, lane, acc[l]), then the lanes summed pairwise (i + 4, then i + 2,
///   then i + 1).
/// - q4_0 (codes q − 8) in a tensor of O % 8 = 0 rows (llama.cpp repacks it, `gemv/gemm_q4_0_8x8_q8_0`):
///   acc = fma(Σ_block w·a, d·dₐ, acc) block after block; other q4_0 tensors as q8_0.
/// - q4_1 (codes q, `ggml_vec_dot_q4_1_q8_1`, every N): as q8_0 plus Σ_block m·sₐ added in block order, the
///   two sums added at the end.
/// - q4_K with O % 8 = 0 (repacked, `gemv/gemm_q4_K_8x8_q8_K`): acc = fma(Σ sc·Σ q·a, d·dₐ, acc) and
///   acc_min = fma(Σ mn·Σ a, dmin·dₐ, acc_min), then acc − acc_min; per super-block in the 1-row kernel,
///   per pair of 32-groups in the 4-row one (rows of x in the first N − N % 4 go 4 at a time).
/// - f16 (x rounded to f16): N ≥ 2 (tinyBLAS) 16 lanes over k, then `_mm512_reduce_add_ps`'s tree; N = 1
///   (`ggml_vec_dot_f16`) 4 × 16 lanes over k mod 64, reduced (0 + 2, 1 + 3, then 0 + 1, then the tree),
///   the columns past the last 64 added in f64.
///
/// Rows are held in segments of one tensor each (q, k and v of one layer are three).
public final class GGMLBlockMatrix {
    public let rows: Int
    public let columns: Int
    let segments: [Segment]

    /// Rows [start, start + count) of one tensor, decoded once into integer codes and float block constants.
    struct Segment {
        let type: GGMLType
        let start: Int
        let count: Int
        /// Whether llama.cpp repacks the tensor (q4_0, q4_K with a row count divisible by 8).
        let repacked: Bool
        /// Per row, one code per column (q kinds).
        var codes: [Int8] = []
        /// Per row: per block of 32 (q4_0, q8_0) or per super-block (q4_K), d.
        var scales: [Float] = []
        /// q4_1: m per block; q4_K: dmin per super-block.
        var mins: [Float] = []
        /// q4_K: sc and mn per group of 32 (8 per super-block).
        var groupScales: [Int32] = []
        var groupMins: [Int32] = []
        /// f16: the weights.
        var values: [Float] = []
    }

    /// Whether `GGMLBlockMatrix` computes with weights of `type` in rows of `columns` values.
    public static func supports(_ type: GGMLType, columns: Int) -> Bool {
        guard type.llamaCppActivationType != nil, columns > 0 else { return false }
        return columns % (type == .f16 ? 16 : type.blockGeometry.elements) == 0
    }

    /// Builds the matrix from tensors stacked in order: part p has `parts[p].rows` rows of `columns` values
    /// of `parts[p].type`, and `parts[p].row(r)` points at the blocks of its row r.
    public init(columns: Int, parts: [(type: GGMLType, rows: Int, row: (Int) -> UnsafeRawPointer)]) throws {
        guard columns > 0, !parts.isEmpty, parts.allSatisfy({ $0.rows > 0 }) else {
            throw TensorError.invalidArgument(operation: "GGMLBlockMatrix", message: "needs at least one part of positive size (got \(parts.map(\.rows)) rows × \(columns))")
        }
        var start = 0
        segments = try parts.map { part in
            guard Self.supports(part.type, columns: columns) else {
                throw TensorError.invalidArgument(operation: "GGMLBlockMatrix", message: "computes with f16, q4_0, q4_1, q8_0 and q4_K rows whose width is a whole number of blocks, not \(part.type) × \(columns)")
            }
            var s = Segment(type: part.type, start: start, count: part.rows,
                            repacked: (part.type == .q4_0 || part.type == .q4_K) && part.rows % 8 == 0)
            if part.type == .q4_K, !s.repacked {
                throw TensorError.invalidArgument(operation: "GGMLBlockMatrix", message: "a q4_K tensor of \(part.rows) rows (not a multiple of 8) runs on a llama.cpp kernel fura does not reproduce")
            }
            for r in 0..<part.rows { Self.decode(row: part.row(r), columns: columns, into: &s) }
            start += part.rows
            return s
        }
        rows = start
        self.columns = columns
    }

    /// Bytes held (codes, constants and f16 values as stored here).
    public var byteCount: Int {
        segments.reduce(0) { $0 + $1.codes.count + 4 * ($1.scales.count + $1.mins.count + $1.groupScales.count + $1.groupMins.count + $1.values.count) }
    }

    /// y (N, O) = x (N, I) · Wᵀ, as llama.cpp computes it for a batch of N rows.
    public func multiply(_ x: Tensor) throws -> Tensor {
        let (n, i) = try x.dims2("GGMLBlockMatrix.multiply")
        guard i == columns else { throw TensorError.shapeMismatch(operation: "GGMLBlockMatrix.multiply", lhs: x.shape, rhs: [rows, columns]) }
        let kinds = Set(segments.compactMap { $0.type.llamaCppActivationType })
        var activations: [[GGMLActivationType: GGMLActivationRow]] = []
        x.withUnsafeBufferPointer { px in
            activations = (0..<n).map { r in
                Dictionary(uniqueKeysWithValues: kinds.map { ($0, GGMLActivationRow(px.baseAddress! + r * i, count: i, type: $0)) })
            }
        }
        var y = Tensor.zeros([n, rows])
        y.withUnsafeMutableBufferPointer { py in
            let out = py.baseAddress!
            for segment in segments {
                let kind = segment.type.llamaCppActivationType!
                Threading.parallelFor(segment.count, minimumPerChunk: max(1, (1 << 16) / max(1, columns * n))) { lo, hi in
                    for r in 0..<n {
                        let a = activations[r][kind]!
                        // llama.cpp's 4-row kernels take the first N − N % 4 rows of x.
                        let grouped = n >= 2 && r < n - n % 4
                        for o in lo..<hi {
                            out[r * self.rows + segment.start + o] = segment.dot(row: o, a, columns: self.columns, batch: n, grouped: grouped)
                        }
                    }
                }
            }
        }
        return y
    }

    // MARK: Decoding rows

    static func decode(row p: UnsafeRawPointer, columns: Int, into s: inout Segment) {
        let half = GGMLDequantize.half
        let byte = { (o: Int) in Int32(p.load(fromByteOffset: o, as: UInt8.self)) }
        switch s.type {
        case .f16:
            for k in 0..<columns { s.values.append(half(p, 2 * k)) }
        case .q8_0:
            for b in 0..<(columns / 32) {
                s.scales.append(half(p, b * 34))
                for j in 0..<32 { s.codes.append(p.load(fromByteOffset: b * 34 + 2 + j, as: Int8.self)) }
            }
        case .q4_0, .q4_1:
            let (bytes, first, zero): (Int, Int, Int32) = s.type == .q4_0 ? (18, 2, 8) : (20, 4, 0)
            for b in 0..<(columns / 32) {
                s.scales.append(half(p, b * bytes))
                if s.type == .q4_1 { s.mins.append(half(p, b * bytes + 2)) }
                for j in 0..<32 {
                    let v = byte(b * bytes + first + j % 16)
                    s.codes.append(Int8((j < 16 ? v & 0xF : v >> 4) - zero))
                }
            }
        case .q4_K:
            for b in 0..<(columns / 256) {
                let o = b * 144
                s.scales.append(half(p, o)); s.mins.append(half(p, o + 2))
                for g in 0..<8 {
                    let (sc, mn): (Int32, Int32) = g < 4
                        ? (byte(o + 4 + g) & 63, byte(o + 8 + g) & 63)
                        : ((byte(o + 8 + g) & 0xF) | ((byte(o + g) >> 6) << 4), (byte(o + 8 + g) >> 4) | ((byte(o + 4 + g) >> 6) << 4))
                    s.groupScales.append(sc); s.groupMins.append(mn)
                }
                for j in 0..<256 {
                    let g = j / 32, v = byte(o + 16 + (g / 2) * 32 + j % 32)
                    s.codes.append(Int8(g % 2 == 0 ? v & 0xF : v >> 4))
                }
            }
        default:
            preconditionFailure("checked by supports(_:columns:)")
        }
    }
}
