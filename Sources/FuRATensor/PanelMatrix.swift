// Legend: N rows of x, O rows of W (output features), I columns of W (input features),
// B = 32 columns per quantization block.

/// A read-only matrix W (O, I) laid out for y = x·Wᵀ with few rows of x (inference decoding).
///
/// Output rows are grouped in panels of 16; inside a panel the 16 weights of each input column k are
/// contiguous, so a product reads every weight once as a SIMD16 vector and uses it for all rows of x
/// (no per-call re-packing, unlike sgemm). Storage kinds:
/// - `float32`: exact; `bfloat16`: rounded to bf16 (half the bytes);
/// - `bfloat16Dot`: bf16 weights in column pairs, multiplied with x rounded to bf16 by AVX512-BF16 dot
///   products (f32 sums) at twice the f32 FMA rate — bf16 compute, as PyTorch's bf16 on CPU;
/// - `affine8` / `affine4`: codes q with a scale d and offset m per (output row, block of 32 columns),
///   value = Float(q)·d + m. GGUF Q8_0 (8-bit, m = 0) and Q4_1 (4-bit) blocks map onto these exactly,
///   so products match the dequantized f32 weights up to summation order.
public final class PanelMatrix: @unchecked Sendable {
    /// How the weights are held.
    public enum Storage: String, Sendable, CaseIterable {
        case float32, bfloat16, affine8, affine4, bfloat16Dot
    }

    /// Output rows per panel (one SIMD16 vector).
    public static let panelWidth = 16
    /// Input columns per quantization block.
    public static let blockSize = 32

    /// O.
    public let rows: Int
    /// I.
    public let columns: Int
    public let storage: Storage
    /// ⌈O/16⌉.
    let panels: Int
    /// ⌈I/32⌉ (quantization blocks per row); columns are padded with zero codes to blocks·32.
    let blocks: Int
    /// Columns held per panel: I for float kinds, blocks·32 for affine kinds, I rounded up to even for `bfloat16Dot`.
    let paddedColumns: Int
    let data: UnsafeMutableRawPointer
    /// Affine kinds: (panels, blocks, 16) scales and offsets; empty otherwise.
    let scales: UnsafeMutablePointer<Float>
    let offsets: UnsafeMutablePointer<Float>

    /// Bytes of weights, scales and offsets held.
    public let byteCount: Int

    /// Allocates the storage; `zeroed: false` leaves the weights uninitialized (for packings that write every one).
    init(rows: Int, columns: Int, storage: Storage, zeroed: Bool = true) {
        self.rows = rows; self.columns = columns; self.storage = storage
        panels = (rows + Self.panelWidth - 1) / Self.panelWidth
        blocks = (columns + Self.blockSize - 1) / Self.blockSize
        let affine = storage == .affine8 || storage == .affine4
        paddedColumns = affine ? blocks * Self.blockSize : storage == .bfloat16Dot ? (columns + 1) / 2 * 2 : columns
        let elements = panels * paddedColumns * Self.panelWidth
        let bytes: Int
        switch storage {
        case .float32: bytes = elements * 4
        case .bfloat16, .bfloat16Dot: bytes = elements * 2
        case .affine8: bytes = elements
        case .affine4: bytes = elements / 2
        }
        data = .allocate(byteCount: max(1, bytes), alignment: 64)
        if zeroed { data.initializeMemory(as: UInt8.self, repeating: 0, count: max(1, bytes)) }
        let scaleCount = affine ? panels * blocks * Self.panelWidth : 0
        scales = .allocate(capacity: max(1, scaleCount)); scales.initialize(repeating: 0, count: max(1, scaleCount))
        offsets = .allocate(capacity: max(1, scaleCount)); offsets.initialize(repeating: 0, count: max(1, scaleCount))
        byteCount = bytes + 2 * scaleCount * 4
    }

    deinit {
        data.deallocate()
        scales.deallocate()
        offsets.deallocate()
    }

    /// Packs w (O, I) as `float32` (exact), `bfloat16` or `bfloat16Dot` (nearest even).
    public convenience init(_ w: Tensor, storage: Storage) throws {
        let (o, i) = try w.dims2("PanelMatrix")
        guard storage == .float32 || storage == .bfloat16 || storage == .bfloat16Dot else {
            throw TensorError.invalidArgument(operation: "PanelMatrix", message: "\(storage) needs codes: use PanelMatrix.quantized8(_:) or init(affineRows:…)")
        }
        self.init(rows: o, columns: i, storage: storage, zeroed: storage != .float32 || o % Self.panelWidth != 0)
        if storage == .float32 {   // every weight is written: no zero-fill unless the last panel is partial
            w.withUnsafeBufferPointer { packFloat32($0.baseAddress!) }
            return
        }
        w.withUnsafeBufferPointer { pw in
            for r in 0..<o {
                let (p, j) = (r / Self.panelWidth, r % Self.panelWidth)
                let src = pw.baseAddress! + r * i
                if storage == .bfloat16Dot {
                    let dst = data.assumingMemoryBound(to: UInt16.self)
                    for k in 0..<i { dst[pairIndex(p, j, k)] = HalfPrecision.bfloat16Bits(from: src[k]) }
                } else {
                    let dst = data.assumingMemoryBound(to: UInt16.self) + p * i * Self.panelWidth + j
                    for k in 0..<i { dst[k * Self.panelWidth] = HalfPrecision.bfloat16Bits(from: src[k]) }
                }
            }
        }
    }

    /// Builds an affine matrix row by row: `fill(row, codes, scales, offsets)` writes the row's I codes
    /// (0...15 for 4 bits, −128...127 for 8 bits) and its ⌈I/32⌉ scales and offsets.
    public convenience init(affineRows rows: Int, columns: Int, bits: Int,
                            fill: (Int, UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) throws -> Void) throws {
        guard bits == 4 || bits == 8 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix", message: "affine codes have 4 or 8 bits, not \(bits)")
        }
        guard rows > 0, columns > 0 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix", message: "an affine matrix needs positive sizes (got \(rows)×\(columns))")
        }
        self.init(rows: rows, columns: columns, storage: bits == 4 ? .affine4 : .affine8)
        let w = Self.panelWidth
        var codes = [Int8](repeating: 0, count: paddedColumns)
        var s = [Float](repeating: 0, count: blocks), m = [Float](repeating: 0, count: blocks)
        for r in 0..<rows {
            let (p, j) = (r / w, r % w)
            try codes.withUnsafeMutableBufferPointer { c in try s.withUnsafeMutableBufferPointer { ps in try m.withUnsafeMutableBufferPointer { pm in
                c.update(repeating: 0)
                try fill(r, c.baseAddress!, ps.baseAddress!, pm.baseAddress!)
                if bits == 4, let bad = c.first(where: { $0 < 0 || $0 > 15 }) {
                    throw TensorError.invalidArgument(operation: "PanelMatrix", message: "row \(r): 4-bit code \(bad) is outside 0...15")
                }
                for b in 0..<blocks {
                    scales[(p * blocks + b) * w + j] = ps[b]
                    offsets[(p * blocks + b) * w + j] = pm[b]
                }
                if bits == 8 {
                    let dst = data.assumingMemoryBound(to: Int8.self) + p * paddedColumns * w + j
                    for k in 0..<columns { dst[k * w] = c[k] }
                } else {
                    let dst = data.assumingMemoryBound(to: UInt8.self) + p * paddedColumns / 2 * w + j
                    for k in 0..<columns { dst[(k / 2) * w] |= UInt8(c[k]) << (4 * UInt8(k % 2)) }
                }
            } } }
        }
    }

    /// Quantizes w (O, I) to 8-bit codes, symmetric per (row, block of 32): d = max|w|/127, m = 0
    /// (Q8_0's scheme, with d kept in f32). Lossy: |w − ŵ| ≤ d/2.
    public static func quantized8(_ w: Tensor) throws -> PanelMatrix {
        let (o, i) = try w.dims2("PanelMatrix.quantized8")
        return try w.withUnsafeBufferPointer { pw in
            try PanelMatrix(affineRows: o, columns: i, bits: 8) { r, codes, scales, _ in
                let row = pw.baseAddress! + r * i
                for b in 0..<((i + blockSize - 1) / blockSize) {
                    let k0 = b * blockSize, k1 = min(i, k0 + blockSize)
                    var amax: Float = 0
                    for k in k0..<k1 { amax = max(amax, abs(row[k])) }
                    let d = amax / 127
                    scales[b] = d
                    guard d > 0 else { continue }
                    for k in k0..<k1 { codes[k] = Int8(max(-127, min(127, (row[k] / d).rounded()))) }
                }
            }
        }
    }

    /// Weight (r, k), decoded one at a time (the reference path).
    public func element(_ r: Int, _ k: Int) -> Float {
        let w = Self.panelWidth
        let (p, j) = (r / w, r % w)
        switch storage {
        case .float32: return data.assumingMemoryBound(to: Float.self)[(p * columns + k) * w + j]
        case .bfloat16: return HalfPrecision.float(fromBFloat16Bits: data.assumingMemoryBound(to: UInt16.self)[(p * columns + k) * w + j])
        case .bfloat16Dot: return HalfPrecision.float(fromBFloat16Bits: data.assumingMemoryBound(to: UInt16.self)[pairIndex(p, j, k)])
        case .affine8, .affine4:
            let s = (p * blocks + k / Self.blockSize) * w + j
            let q: Int32
            if storage == .affine8 {
                q = Int32(data.assumingMemoryBound(to: Int8.self)[(p * paddedColumns + k) * w + j])
            } else {
                q = Int32((data.assumingMemoryBound(to: UInt8.self)[(p * paddedColumns / 2 + k / 2) * w + j] >> (4 * UInt8(k % 2))) & 0xF)
            }
            return Float(q) * scales[s] + offsets[s]
        }
    }

    /// The matrix decoded to f32 (O, I).
    public func widened() -> Tensor {
        var t = Tensor.zeros([rows, columns])
        for r in 0..<rows { for k in 0..<columns { t.storage[r * columns + k] = element(r, k) } }
        return t
    }

    /// Reference twin of `multiply`: y (N, O) = x (N, I) · Wᵀ with weights decoded one by one, sums in
    /// Double; for `bfloat16Dot`, x rounded to bf16 first (what the dot-product instructions read).
    public func multiplyReference(_ x: Tensor) throws -> Tensor {
        let (n, i) = try x.dims2("PanelMatrix.multiplyReference")
        guard i == columns else { throw TensorError.shapeMismatch(operation: "PanelMatrix.multiplyReference", lhs: x.shape, rhs: [rows, columns]) }
        var y = Tensor.zeros([n, rows])
        var xs = x.storage
        if storage == .bfloat16Dot { HalfPrecision.roundToBFloat16(&xs) }
        for s in 0..<n {
            for r in 0..<rows {
                var acc = 0.0
                for k in 0..<columns { acc += Double(xs[s * columns + k]) * Double(element(r, k)) }
                y.storage[s * rows + r] = Float(acc)
            }
        }
        return y
    }
}
