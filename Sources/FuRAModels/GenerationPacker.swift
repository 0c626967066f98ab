import FuRAFormats
import FuRATensor

// Legend: O output features (rows of a weight), I input features.

/// Makes the packed weight copies of a `GenerationModel` in one `GenerationWeightPrecision`, and
/// counts what it made (for `GenerationModel.weightSummary`).
final class GenerationPacker {
    let precision: GenerationWeightPrecision
    let gguf: GGUFFile?
    let config: ModelConfig
    /// Matrices packed from the file's blocks, and matrices that fell back to f32.
    private(set) var fromFile = 0
    private(set) var fellBack: [String] = []
    private(set) var bytes = 0

    init(precision: GenerationWeightPrecision, gguf: GGUFFile?, config: ModelConfig) throws {
        if precision == .gguf || precision == .llamaCpp, gguf == nil {
            throw GenerationError.invalidOption(option: "precision", value: precision.rawValue,
                                                reason: "reads the blocks of a .gguf model file; this model did not come from one (use f32, bf16 or q8)")
        }
        self.precision = precision
        self.gguf = gguf
        self.config = config
    }

    /// The weights (O_i, I) of `parts`, stacked in order, as one packed matrix.
    func panel(_ parts: [(weight: Tensor, name: String?)]) throws -> any PackedWeight {
        let m = try makePanel(parts)
        bytes += m.byteCount
        return m
    }

    private func makePanel(_ parts: [(weight: Tensor, name: String?)]) throws -> any PackedWeight {
        if precision == .gguf || precision == .llamaCpp {
            let fromBlocks: (any PackedWeight)? = precision == .gguf ? try ggufPanel(parts) : try blockMatrix(parts)
            if let m = fromBlocks { fromFile += 1; return m }
            fellBack.append(parts.map { $0.name ?? "?" }.joined(separator: "+"))
        }
        let w = parts.count == 1 ? parts[0].weight
            : try Tensor(shape: [parts.reduce(0) { $0 + $1.weight.shape[0] }, parts[0].weight.shape[1]], data: parts.flatMap(\.weight.storage))
        switch precision {
        case .float32, .gguf, .llamaCpp: return try PanelMatrix(w, storage: .float32)
        case .bfloat16: return try PanelMatrix(w, storage: .bfloat16)
        case .bfloat16Compute: return try PanelMatrix(w, storage: .bfloat16Dot)
        case .int8: return try PanelMatrix.quantized8(w)
        }
    }

    private struct Mismatch: Error {}

    /// The file's blocks of `parts` (HF names) as affine codes (`GGUFAffineCodes`: Q8_0, Q4_0, Q5_0, Q4_1,
    /// Q4_K, Q6_K), or nil when a part is missing from the file, is of another type, or any decoded weight
    /// differs from the model's weight (the model was trained or loaded from elsewhere). Consecutive parts of
    /// one layout share a matrix; parts of different layouts (Q4_K_M files mix Q4_K and Q6_K in q/k/v) are
    /// multiplied one after the other (`StackedWeight`).
    func ggufPanel(_ parts: [(weight: Tensor, name: String?)]) throws -> (any PackedWeight)? {
        var groups: [(layout: GGUFAffineCodes.Layout, parts: [(type: GGMLType, row: (Int) -> UnsafeRawPointer, weight: Tensor)])] = []
        var columns = 0
        for part in parts {
            guard let (info, row) = fileRows(part), let layout = GGUFAffineCodes.layout(of: info.type),
                  info.shape[1] % info.type.blockGeometry.elements == 0, columns == 0 || columns == info.shape[1] else { return nil }
            columns = info.shape[1]
            if let last = groups.last, last.layout == layout {
                groups[groups.count - 1].parts.append((info.type, row, part.weight))
            } else {
                groups.append((layout, [(info.type, row, part.weight)]))
            }
        }
        guard !groups.isEmpty else { return nil }
        do {
            let matrices = try groups.map { try affineMatrix($0.parts, columns: columns, layout: $0.layout) }
            return matrices.count == 1 ? matrices[0] : StackedWeight(matrices)
        } catch is Mismatch {
            return nil
        }
    }

    /// `sources` stacked in order as one affine matrix (K-quants in their super-block form); throws `Mismatch` where a
    /// code decodes to another value than the model's weight.
    private func affineMatrix(_ sources: [(type: GGMLType, row: (Int) -> UnsafeRawPointer, weight: Tensor)], columns: Int,
                              layout: GGUFAffineCodes.Layout) throws -> PanelMatrix {
        let starts = sources.reduce(into: [0]) { $0.append($0.last! + $1.weight.shape[0]) }
        let (b, s) = (layout.blockSize, layout.blocksPerSuperBlock)
        /// The part holding stacked row r, and the row within it.
        func source(_ r: Int) -> (Int, Int) { let i = starts.lastIndex { $0 <= r }!; return (i, r - starts[i]) }
        func check(_ weight: Tensor, _ local: Int, _ value: (Int) -> Float) throws {
            try weight.withUnsafeBufferPointer { pw in
                let expected = pw.baseAddress! + local * columns
                for k in 0..<columns where value(k) != expected[k] { throw Mismatch() }
            }
        }
        if s > 0 {
            return try PanelMatrix(superBlockRows: starts.last!, columns: columns, bits: layout.bits, blockSize: b, blocksPerSuperBlock: s) { r, row in
                let (i, local) = source(r)
                GGUFAffineCodes.decodeSuperBlockRow(sources[i].row(local), type: sources[i].type, count: columns, into: row)
                try check(sources[i].weight, local) { row.value($0, blockSize: b, blocksPerSuperBlock: s) }
            }
        }
        return try PanelMatrix(affineRows: starts.last!, columns: columns, bits: layout.bits, blockSize: b) { r, codes, scales, offsets in
            let (i, local) = source(r)
            GGUFAffineCodes.decodeRow(sources[i].row(local), type: sources[i].type, count: columns, codes: codes, scales: scales, offsets: offsets)
            try check(sources[i].weight, local) { Float(codes[$0]) * scales[$0 / b] + offsets[$0 / b] }
        }
    }

    /// The file's blocks of `parts` (HF names) as one `GGMLBlockMatrix` (llama.cpp's arithmetic), or nil
    /// when a part is missing from the file, of a type it does not compute with, or decodes to other
    /// values than the model's weight (the model was trained or loaded from elsewhere).
    func blockMatrix(_ parts: [(weight: Tensor, name: String?)]) throws -> GGMLBlockMatrix? {
        guard let columns = parts.first?.weight.shape.last else { return nil }
        var sources: [(type: GGMLType, rows: Int, row: (Int) -> UnsafeRawPointer)] = []
        for part in parts {
            guard let (info, row) = fileRows(part), info.shape[1] == columns, GGMLBlockMatrix.supports(info.type, columns: columns),
                  let rowBytes = info.type.byteCount(elements: columns) else { return nil }
            let rows = info.shape[0]
            // Only where the blocks still hold the model's weights.
            var decoded = [Float](repeating: 0, count: columns)
            let same = try part.weight.withUnsafeBufferPointer { pw in
                try decoded.withUnsafeMutableBufferPointer { pd in
                    for r in 0..<rows {
                        try GGMLDequantize.dequantize(UnsafeRawBufferPointer(start: row(r), count: rowBytes), type: info.type, count: columns, into: pd)
                        if !pd.elementsEqual(pw[(r * columns)..<((r + 1) * columns)]) { return false }
                    }
                    return true
                }
            }
            guard same else { return nil }
            sources.append((info.type, rows, row))
        }
        return try GGMLBlockMatrix(columns: columns, parts: sources)
    }

    /// Where the GGUF file holds `part` (an HF weight (O, I), by name): its tensor and the blocks of each HF row
    /// (llama.cpp permuted the q/k rows of some families); nil when the file lacks it or holds another shape.
    func fileRows(_ part: (weight: Tensor, name: String?)) -> (info: GGUFTensorInfo, row: (Int) -> UnsafeRawPointer)? {
        guard let file = gguf, let name = part.name, let g = config.family.ggufName(ofHF: name), let info = file.tensorInfo(named: g),
              info.shape == part.weight.shape, info.shape.count == 2, let rowBytes = info.type.byteCount(elements: info.shape[1]) else { return nil }
        let raw = file.rawBytes(of: info), rows = info.shape[0]
        let heads = config.family.permutedHeads(ofHF: name, config: config)
        return (info, { r in raw.baseAddress! + (heads.map { Self.fileRow(ofHF: r, rows: rows, heads: $0) } ?? r) * rowBytes })
    }

    /// The file row holding HF row `r` of a q/k weight that llama.cpp permuted: within each head of D
    /// rows, file row 2i + s holds HF row s·D/2 + i.
    static func fileRow(ofHF r: Int, rows: Int, heads: Int) -> Int {
        let d = rows / heads, half = d / 2
        let (h, within) = (r / d, r % d)
        return h * d + 2 * (within % half) + within / half
    }

    /// One line on what was packed.
    var summary: String {
        var s = "\(precision.rawValue) weights: \(bytes / 1_000_000) MB packed"
        if precision == .gguf || precision == .llamaCpp {
            s += ", \(fromFile) matrices from the file's blocks"
            let kinds = precision == .gguf ? "Q4_0/Q4_1/Q5_0/Q8_0/Q4_K/Q6_K" : "f16/Q4_0/Q4_1/Q8_0/Q4_K"
            if !fellBack.isEmpty { s += ", \(fellBack.count) in f32 (not stored as \(kinds) or changed since loading: \(fellBack.prefix(3).joined(separator: ", "))…)" }
        }
        return s
    }
}
