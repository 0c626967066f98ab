import FuRATensor
import Synchronization

// Legend: N rows (tokens), O output features (rows of W), I input features (columns of W).

/// How a frozen weight is stored.
public enum FrozenWeightFormat: String, Codable, Sendable, CaseIterable {
    /// Plain `Float`.
    case float32 = "f32"
    /// bfloat16 bits (round to nearest even), decoded in tiles.
    case bfloat16 = "bf16"
    /// NF4 with plain `Float` absmax (bitsandbytes `compress_statistics=False`).
    case nf4 = "nf4"
    /// NF4 with double-quantized absmax (bitsandbytes `compress_statistics=True`, the QLoRA/QFuRA default).
    case nf4DoubleQuant = "nf4_dq"
}

/// A frozen matrix W (O, I) stored as f32, bf16 or NF4, used only through products that decode it in
/// row tiles right before each sgemm (so an NF4 or bf16 weight never exists whole in `Float`).
public struct FrozenWeight: Sendable {
    /// The stored bits.
    public enum Storage: Sendable {
        case float32(Tensor)
        case bfloat16([UInt16])
        case nf4(NF4Tensor)
    }

    /// O.
    public let rows: Int
    /// I.
    public let columns: Int
    /// The stored bits.
    public let storage: Storage
    /// The weight packed for bf16 products, made on the first bf16 product and shared by copies of this value
    /// (it is derived from the immutable storage).
    private let packedBF16 = PackedBox()

    /// Holds the packing behind a lock, so a `Sendable` value can make it lazily.
    private final class PackedBox: Sendable {
        let packed = Mutex<TrainingPanels?>(nil)
    }

    /// Stores `weight` (O, I) in `format`; `name` names it in errors.
    ///
    /// - Throws: `TensorError.rankMismatch` unless 2-D; `NF4Error.nonFinite` for NaN/inf under NF4.
    public init(_ weight: Tensor, format: FrozenWeightFormat, name: String = "weight") throws {
        (rows, columns) = try weight.dims2("FrozenWeight \(name)")
        switch format {
        case .float32:
            storage = .float32(weight)
        case .bfloat16:
            storage = .bfloat16(weight.storage.map(HalfPrecision.bfloat16Bits(from:)))
        case .nf4, .nf4DoubleQuant:
            storage = .nf4(try NF4.quantize(weight, doubleQuantization: format == .nf4DoubleQuant, name: name))
        }
    }

    /// Wraps an already quantized (O, I) NF4 tensor (for example one loaded from a bitsandbytes checkpoint).
    public init(nf4: NF4Tensor) throws {
        guard nf4.shape.count == 2 else { throw TensorError.rankMismatch(operation: "FrozenWeight(nf4:)", expected: 2, actual: nf4.shape) }
        rows = nf4.shape[0]
        columns = nf4.shape[1]
        storage = .nf4(nf4)
    }

    /// The storage format.
    public var format: FrozenWeightFormat {
        switch storage {
        case .float32: return .float32
        case .bfloat16: return .bfloat16
        case let .nf4(q):
            if case .doubleQuantized = q.scales { return .nf4DoubleQuant }
            return .nf4
        }
    }

    /// Bytes held by the stored weight.
    public var byteCount: Int {
        switch storage {
        case let .float32(w): return 4 * w.count
        case let .bfloat16(bits): return 2 * bits.count
        case let .nf4(q): return q.byteCount
        }
    }

    /// The tiled view used by the products of compressed storage (nil for f32).
    private func tiled(tileElements: Int = RowTiledMatrix.defaultTileElements) -> RowTiledMatrix? {
        let width = columns
        switch storage {
        case .float32:
            return nil
        case let .bfloat16(bits):
            return RowTiledMatrix(rows: rows, columns: columns, tileElements: tileElements) { r0, r1, tile in
                bits.withUnsafeBufferPointer { b in
                    let base = r0 * width
                    for k in 0..<((r1 - r0) * width) { tile[k] = HalfPrecision.float(fromBFloat16Bits: b[base + k]) }
                }
            }
        case let .nf4(q):
            return RowTiledMatrix(rows: rows, columns: columns, tileElements: tileElements) { r0, r1, tile in
                q.dequantize(elements: (r0 * width)..<(r1 * width), into: tile)
            }
        }
    }

    /// The weight packed for both products at bf16 (made once, then kept; half the bytes of f32 each).
    public func packedForBFloat16() throws -> TrainingPanels {
        try packedBF16.packed.withLock { packed in
            if let packed { return packed }
            let made = try TrainingPanels(dense(), precision: .bf16)
            packed = made
            return made
        }
    }

    /// `out (+)= alpha · product` for a product computed whole (the panel kernels overwrite their output).
    private static func combine(_ product: Tensor, into out: inout Tensor, accumulate: Bool, alpha: Float) throws {
        if accumulate {
            try out.add(product, scaledBy: alpha)
        } else {
            out = product
            if alpha != 1 { out.scale(by: alpha) }
        }
    }

    /// Whether products at `precision` run on the kept bf16 packing: f32 and bf16 storage at bf16. NF4 is not packed
    /// whole (it would take 8× its bytes): at bf16 each decoded tile is rounded into bf16 pairs for its product instead.
    func usesPacking(_ precision: ComputePrecision) -> Bool {
        guard precision == .bf16 else { return false }
        if case .nf4 = storage { return false }
        return true
    }

    /// y (+)= alpha · x · Wᵀ. x: (N, I) → y: (N, O). At bf16, x and W rounded to bf16 with f32 sums.
    public func multiplyTransposed(_ x: Tensor, into y: inout Tensor, accumulate: Bool = false, alpha: Float = 1,
                                   precision: ComputePrecision = .f32) throws {
        if usesPacking(precision) {
            try Self.combine(packedForBFloat16().multiplyTransposed(x), into: &y, accumulate: accumulate, alpha: alpha)
        } else if case let .float32(w) = storage {
            try Tensor.matmul(x, w, transposeB: true, into: &y, accumulate: accumulate, alpha: alpha)
        } else {
            try tiled()!.multiplyTransposed(x, into: &y, accumulate: accumulate, alpha: alpha, precision: precision)
        }
    }

    /// y = x · Wᵀ. x: (N, I) → (N, O).
    public func multiplyTransposed(_ x: Tensor, precision: ComputePrecision = .f32) throws -> Tensor {
        var y = Tensor.zeros([0, 0])
        try multiplyTransposed(x, into: &y, precision: precision)
        return y
    }

    /// dX (+)= alpha · dY · W. dY: (N, O) → dX: (N, I). At bf16, dY and W rounded to bf16 with f32 sums.
    public func multiply(_ dY: Tensor, into dX: inout Tensor, accumulate: Bool = false, alpha: Float = 1,
                         precision: ComputePrecision = .f32) throws {
        if usesPacking(precision) {
            try Self.combine(packedForBFloat16().multiply(dY), into: &dX, accumulate: accumulate, alpha: alpha)
        } else if case let .float32(w) = storage {
            try Tensor.matmul(dY, w, into: &dX, accumulate: accumulate, alpha: alpha)
        } else {
            try tiled()!.multiply(dY, into: &dX, accumulate: accumulate, alpha: alpha, precision: precision)
        }
    }

    /// dX = dY · W. dY: (N, O) → (N, I).
    public func multiply(_ dY: Tensor, precision: ComputePrecision = .f32) throws -> Tensor {
        var dX = Tensor.zeros([0, 0])
        try multiply(dY, into: &dX, precision: precision)
        return dX
    }

    /// Calls `body(r0, r1, tile)` with W[r0..<r1, :] decoded to `Float`, row-major, in order of rows.
    /// f32 storage passes the whole matrix as one tile.
    public func forEachRowTile(tileElements: Int = RowTiledMatrix.defaultTileElements, _ body: (Int, Int, UnsafePointer<Float>) throws -> Void) rethrows {
        if case let .float32(w) = storage {
            guard rows > 0, columns > 0 else { return }
            try w.withUnsafeBufferPointer { try body(0, rows, $0.baseAddress!) }
        } else {
            try tiled(tileElements: tileElements)!.forEachTile(body)
        }
    }

    /// The decoded matrix (O, I) in `Float` (for merge and export; allocates it whole).
    public func dense() -> Tensor {
        if case let .float32(w) = storage { return w }
        return tiled()!.dense()
    }

    /// ‖W[o, :]‖₂ for every row o: (O,).
    public func rowNorms() -> Tensor {
        var norms = Tensor.zeros([rows])
        let width = columns
        forEachRowTile { r0, r1, tile in
            for r in r0..<r1 {
                norms.storage[r] = Kernels.sumOfSquares(tile + (r - r0) * width, width).squareRoot()
            }
        }
        return norms
    }
}
