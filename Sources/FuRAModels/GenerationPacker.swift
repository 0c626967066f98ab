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

    /// The file's Q4_1 or Q8_0 blocks of `parts` (HF names) as one affine matrix, or nil when a part is
    /// missing from the file, is of another type, the parts' types differ, or any decoded weight differs
    /// from the model's weight (the model was trained or loaded from elsewhere).
    func ggufPanel(_ parts: [(weight: Tensor, name: String?)]) throws -> PanelMatrix? {
        var sources: [(row: (Int) -> UnsafeRawPointer, rows: Int, weight: Tensor)] = []
        var type: GGMLType?
        var columns = 0
        for part in parts {
            guard let (info, row) = fileRows(part), info.type == .q4_1 || info.type == .q8_0, type == nil || type == info.type,
                  info.shape[1] % 32 == 0, columns == 0 || columns == info.shape[1] else { return nil }
            type = info.type; columns = info.shape[1]
            sources.append((row, info.shape[0], part.weight))
        }
        guard let type, !sources.isEmpty else { return nil }
        let four = type == .q4_1, blockBytes = type.blockGeometry.bytes, perRow = columns / 32
        let starts = sources.reduce(into: [0]) { $0.append($0.last! + $1.rows) }
        do {
            return try PanelMatrix(affineRows: starts.last!, columns: columns, bits: four ? 4 : 8) { r, codes, scales, offsets in
                let s = starts.lastIndex { $0 <= r }!
                let source = sources[s], local = r - starts[s]
                let row = source.row(local)
                try source.weight.withUnsafeBufferPointer { pw in
                    let expected = pw.baseAddress! + local * columns
                    for b in 0..<perRow {
                        let block = row + b * blockBytes
                        let d = Self.half(block, 0), m = four ? Self.half(block, 2) : 0
                        if four {
                            for j in 0..<16 {
                                let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                                codes[b * 32 + j] = Int8(byte & 0xF); codes[b * 32 + j + 16] = Int8(byte >> 4)
                            }
                        } else {
                            for j in 0..<32 { codes[b * 32 + j] = block.load(fromByteOffset: 2 + j, as: Int8.self) }
                        }
                        scales[b] = d; offsets[b] = m
                        for k in (b * 32)..<(b * 32 + 32) where Float(codes[k]) * d + m != expected[k] { throw Mismatch() }
                    }
                }
            }
        } catch is Mismatch {
            return nil
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

    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.float(fromFloat16Bits: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// One line on what was packed.
    var summary: String {
        var s = "\(precision.rawValue) weights: \(bytes / 1_000_000) MB packed"
        if precision == .gguf || precision == .llamaCpp {
            s += ", \(fromFile) matrices from the file's blocks"
            let kinds = precision == .gguf ? "Q4_1/Q8_0" : "f16/Q4_0/Q4_1/Q8_0/Q4_K"
            if !fellBack.isEmpty { s += ", \(fellBack.count) in f32 (not stored as \(kinds) or changed since loading: \(fellBack.prefix(3).joined(separator: ", "))…)" }
        }
        return s
    }
}
