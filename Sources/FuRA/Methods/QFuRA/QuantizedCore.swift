import FuRANN
import FuRATensor

// Legend: a core of shape (S, R, C): S slabs (its outer index), each an R × C row-major matrix.

/// The frozen BTT core of QFuRA stored in NF4 (Docs/methods.md §9): `btt_l` (m, r·n, a) or `btt_r` (n, b, m·r).
///
/// Layout `flat` quantizes the whole core as one flattened tensor (blocks of 64 run across slab borders);
/// `per_core_block` quantizes each slab on its own. Products read the core a few rows of one slab at a time
/// (`forEachTile`), decoding each tile into a scratch buffer right before its sgemm, so the `Float` core never
/// exists whole.
public struct QuantizedCore: Sendable {
    /// Which core this is.
    public let side: CoreSide
    /// The 3-D shape (S, R, C) of the core.
    public let shape: [Int]
    /// The layout the codes were made with.
    public let layout: QFuRALayout
    /// `flat`: one tensor of shape (S, R, C); `per_core_block`: S tensors of shape (R, C).
    public let parts: [NF4Tensor]

    /// S.
    public var slabCount: Int { shape[0] }
    /// R: rows of one slab.
    public var slabRows: Int { shape[1] }
    /// C: columns of one slab.
    public var slabColumns: Int { shape[2] }
    /// S · R · C.
    public var count: Int { shape.reduce(1, *) }
    /// Bytes of codes and scales.
    public var byteCount: Int { parts.reduce(0) { $0 + $1.byteCount } }
    /// Whether the absmax values are double-quantized.
    public var doubleQuantization: Bool {
        guard let first = parts.first, case .doubleQuantized = first.scales else { return false }
        return true
    }

    /// Quantizes `core` (S, R, C).
    ///
    /// - Throws: `ConversionError.shapeMismatch` unless 3-D; `NF4Error.nonFinite` for NaN/inf.
    public init(_ core: Tensor, side: CoreSide, options: QFuRAOptions, module: String = "QFuRA") throws {
        guard core.shape.count == 3 else {
            throw ConversionError.shapeMismatch(module: module, tensor: side.rawValue, expected: [-1, -1, -1], actual: core.shape)
        }
        self.side = side
        self.shape = core.shape
        self.layout = options.layout
        let name = "\(module).\(side.rawValue)"
        switch options.layout {
        case .flat:
            parts = [try NF4.quantize(core, doubleQuantization: options.doubleQuantization, name: name)]
        case .perCoreBlock:
            let slab = core.shape[1] * core.shape[2]
            parts = try (0..<core.shape[0]).map { s in
                let values = Array(core.storage[(s * slab)..<((s + 1) * slab)])
                return try NF4.quantize(try Tensor(shape: [core.shape[1], core.shape[2]], data: values),
                                        doubleQuantization: options.doubleQuantization, name: "\(name)[\(s)]")
            }
        }
    }

    /// Decodes rows `rows` of slab `slab` into `out` (rows.count · C floats, row-major).
    public func decode(slab: Int, rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let c = slabColumns
        switch layout {
        case .flat:
            let base = slab * slabRows * c
            parts[0].dequantize(elements: (base + rows.lowerBound * c)..<(base + rows.upperBound * c), into: out)
        case .perCoreBlock:
            parts[slab].dequantize(elements: (rows.lowerBound * c)..<(rows.upperBound * c), into: out)
        }
    }

    /// The decoded core (S, R, C) in `Float` (for merge and tests; allocates it whole).
    public func dequantized() -> Tensor {
        var out = Tensor.zeros(shape)
        let rowsTotal = slabCount * slabRows, c = slabColumns, r = slabRows
        guard rowsTotal > 0, c > 0 else { return out }
        out.withUnsafeMutableBufferPointer { p in
            Threading.parallelFor(rowsTotal, minimumPerChunk: Swift.max(1, 16_384 / c)) { start, end in
                var row = start
                while row < end {
                    let slab = row / r, first = row % r
                    let last = Swift.min(r, first + (end - row))
                    self.decode(slab: slab, rows: first..<last, into: p.baseAddress! + row * c)
                    row += last - first
                }
            }
        }
        return out
    }

    /// The default bound on one decoded tile: 2^20 floats (4 MiB).
    public static let defaultTileElements = 1 << 20

    /// Calls `body(r0, r1, tile)` for consecutive row ranges of slab `slab`, with rows r0..<r1 decoded into `tile`
    /// ((r1 − r0) × C, row-major; the body may overwrite it). `scratch` is reused between calls.
    public func forEachTile(slab: Int, scratch: inout [Float], tileElements: Int = QuantizedCore.defaultTileElements,
                            _ body: (Int, Int, UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        let r = slabRows, c = slabColumns
        guard r > 0, c > 0 else { return }
        let tileRows = Swift.max(1, Swift.min(r, tileElements / c))
        if scratch.count < tileRows * c { scratch = [Float](repeating: 0, count: tileRows * c) }
        try scratch.withUnsafeMutableBufferPointer { buffer in
            let tile = buffer.baseAddress!
            var r0 = 0
            while r0 < r {
                let r1 = Swift.min(r, r0 + tileRows)
                let start = r0
                Threading.parallelFor(r1 - r0, minimumPerChunk: Swift.max(1, 16_384 / c)) { a, b in
                    self.decode(slab: slab, rows: (start + a)..<(start + b), into: tile + a * c)
                }
                try body(r0, r1, tile)
                r0 = r1
            }
        }
    }
}
