// Legend: N rows of x, O rows of W (output features), I columns of W (input features),
// B = columns per quantization block (32, or 16 for GGUF Q6_K).

/// A read-only matrix W (O, I) laid out for y = x·Wᵀ with few rows of x (inference decoding).
///
/// Output rows are grouped in panels of 16; inside a panel the 16 weights of each input column k are
/// contiguous, so a product reads every weight once as a SIMD16 vector and uses it for all rows of x
/// (no per-call re-packing, unlike sgemm). Storage kinds:
/// - `float32`: exact; `bfloat16`: rounded to bf16 (half the bytes);
/// - `bfloat16Dot`: bf16 weights in column pairs, multiplied with x rounded to bf16 by AVX512-BF16 dot
///   products (f32 sums) at twice the f32 FMA rate — bf16 compute, as PyTorch's bf16 on CPU;
/// - `affine8` / `affine4`: codes q with a scale d and offset m per (output row, block of B columns),
///   value = Float(q)·d + m. GGUF Q8_0 and Q5_0 (8-bit, m = 0), Q4_1 and Q4_K (4-bit; Q4_K's d = d·sc and
///   m = −dmin·mn per group of 32) and Q6_K (8-bit, B = 16, d = d·sc) blocks map onto these exactly, so
///   products match the dequantized f32 weights up to summation order.
public final class PanelMatrix: @unchecked Sendable {
    /// How the weights are held.
    public enum Storage: String, Sendable, CaseIterable {
        case float32, bfloat16, affine8, affine4, bfloat16Dot
    }

    /// Output rows per panel (one SIMD16 vector).
    public static let panelWidth = 16
    /// Input columns per quantization block, unless a matrix is built with another `blockSize`.
    public static let defaultBlockSize = 32

    /// O.
    public let rows: Int
    /// I.
    public let columns: Int
    public let storage: Storage
    /// B: input columns per quantization block of the affine kinds (32, or 16), a multiple of 4.
    public let blockSize: Int
    /// ⌈O/16⌉.
    let panels: Int
    /// ⌈I/B⌉ (quantization blocks per row); columns are padded with zero codes to blocks·B.
    let blocks: Int
    /// Columns held per panel: I for float kinds, blocks·B for affine kinds, I rounded up to even for `bfloat16Dot`.
    let paddedColumns: Int
    let data: UnsafeMutableRawPointer
    /// Affine kinds: (panels, blocks, 16) scales and offsets; with super-blocks, (panels, blocks/superBlock, 16)
    /// super-block factors; empty otherwise.
    let scales: UnsafeMutablePointer<Float>
    let offsets: UnsafeMutablePointer<Float>
    /// Blocks per super-block when a block's scale and offset are 8-bit codes times the super-block's factors
    /// (GGUF K-quants: scale = d·Float(sc), offset = −(dmin·Float(mn))); 0 when each block holds f32 ones.
    let superBlock: Int
    /// log₂ of `superBlock` (a power of two) and super-blocks per row: block b's factors are at b >> superShift.
    let superShift: Int
    let superBlocks: Int
    /// With super-blocks: (panels, blocks, 16) scale and offset codes.
    let scaleCodes: UnsafeMutablePointer<Int8>
    let offsetCodes: UnsafeMutablePointer<Int8>
    /// Whether any offset is non-zero (Q8_0, Q5_0, Q6_K have none: products skip them).
    internal(set) var hasOffsets = false

    /// Bytes of weights, scales and offsets held.
    public let byteCount: Int

    /// Allocates the storage; `zeroed: false` leaves the weights uninitialized (for packings that write every one).
    init(rows: Int, columns: Int, storage: Storage, blockSize: Int = PanelMatrix.defaultBlockSize, superBlock: Int = 0, zeroed: Bool = true) {
        self.rows = rows; self.columns = columns; self.storage = storage; self.blockSize = blockSize; self.superBlock = superBlock
        superShift = superBlock > 0 ? superBlock.trailingZeroBitCount : 0
        panels = (rows + Self.panelWidth - 1) / Self.panelWidth
        blocks = (columns + blockSize - 1) / blockSize
        superBlocks = superBlock > 0 ? blocks / superBlock : 0
        let affine = storage == .affine8 || storage == .affine4
        paddedColumns = affine ? blocks * blockSize : storage == .bfloat16Dot ? (columns + 1) / 2 * 2 : columns
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
        let codeCount = affine && superBlock > 0 ? panels * blocks * Self.panelWidth : 0
        let scaleCount = !affine ? 0 : panels * (superBlock > 0 ? superBlocks : blocks) * Self.panelWidth
        scales = .allocate(capacity: max(1, scaleCount)); scales.initialize(repeating: 0, count: max(1, scaleCount))
        offsets = .allocate(capacity: max(1, scaleCount)); offsets.initialize(repeating: 0, count: max(1, scaleCount))
        scaleCodes = .allocate(capacity: max(1, codeCount)); scaleCodes.initialize(repeating: 0, count: max(1, codeCount))
        offsetCodes = .allocate(capacity: max(1, codeCount)); offsetCodes.initialize(repeating: 0, count: max(1, codeCount))
        byteCount = bytes + 2 * scaleCount * 4 + 2 * codeCount
    }

    deinit {
        data.deallocate()
        scales.deallocate()
        offsets.deallocate()
        scaleCodes.deallocate()
        offsetCodes.deallocate()
    }

    /// Packs w (O, I) as `float32` (exact), `bfloat16` or `bfloat16Dot` (nearest even).
    public convenience init(_ w: Tensor, storage: Storage) throws {
        let (o, i) = try w.dims2("PanelMatrix")
        guard storage == .float32 || storage == .bfloat16 || storage == .bfloat16Dot else {
            throw TensorError.invalidArgument(operation: "PanelMatrix", message: "\(storage) needs codes: use PanelMatrix.quantized8(_:) or init(affineRows:…)")
        }
        self.init(rows: o, columns: i, storage: storage, zeroed: storage != .float32 || o % Self.panelWidth != 0)
        w.withUnsafeBufferPointer { packFloats($0.baseAddress!) }
    }

    /// Builds an affine matrix row by row: `fill(row, codes, scales, offsets)` writes the row's I codes
    /// (0...15 for 4 bits, −128...127 for 8 bits) and its ⌈I/B⌉ scales and offsets (B = `blockSize`, 16 or 32).
    public convenience init(affineRows rows: Int, columns: Int, bits: Int, blockSize: Int = PanelMatrix.defaultBlockSize,
                            fill: (Int, UnsafeMutablePointer<Int8>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) throws -> Void) throws {
        guard bits == 4 || bits == 8 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix", message: "affine codes have 4 or 8 bits, not \(bits)")
        }
        guard blockSize == 16 || blockSize == 32 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix", message: "affine blocks hold 16 or 32 columns, not \(blockSize)")
        }
        guard rows > 0, columns > 0 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix", message: "an affine matrix needs positive sizes (got \(rows)×\(columns))")
        }
        self.init(rows: rows, columns: columns, storage: bits == 4 ? .affine4 : .affine8, blockSize: blockSize)
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
                if pm.contains(where: { $0 != 0 }) { hasOffsets = true }
                storeCodes(row: r, c.baseAddress!)
            } } }
        }
    }

    /// Writes row r's I codes (checked by the caller) into its panel.
    func storeCodes(row r: Int, _ c: UnsafePointer<Int8>) {
        let w = Self.panelWidth
        let (p, j) = (r / w, r % w)
        if storage == .affine8 {
            let dst = data.assumingMemoryBound(to: Int8.self) + p * paddedColumns * w + j
            for k in 0..<columns { dst[k * w] = c[k] }
        } else {
            let dst = data.assumingMemoryBound(to: UInt8.self) + p * paddedColumns / 2 * w + j
            for k in 0..<columns { dst[(k / 2) * w] |= UInt8(c[k]) << (4 * UInt8(k % 2)) }
        }
    }

    /// Quantizes w (O, I) to 8-bit codes, symmetric per (row, block of 32): d = max|w|/127, m = 0
    /// (Q8_0's scheme, with d kept in f32). Lossy: |w − ŵ| ≤ d/2.
    public static func quantized8(_ w: Tensor) throws -> PanelMatrix {
        let (o, i) = try w.dims2("PanelMatrix.quantized8")
        return try w.withUnsafeBufferPointer { pw in
            try PanelMatrix(affineRows: o, columns: i, bits: 8) { r, codes, scales, _ in
                let row = pw.baseAddress! + r * i
                for b in 0..<((i + defaultBlockSize - 1) / defaultBlockSize) {
                    let k0 = b * defaultBlockSize, k1 = min(i, k0 + defaultBlockSize)
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
            let b = k / blockSize
            let q: Int32
            if storage == .affine8 {
                q = Int32(data.assumingMemoryBound(to: Int8.self)[(p * paddedColumns + k) * w + j])
            } else {
                q = Int32((data.assumingMemoryBound(to: UInt8.self)[(p * paddedColumns / 2 + k / 2) * w + j] >> (4 * UInt8(k % 2))) & 0xF)
            }
            if superBlock > 0 {
                let (c, f) = ((p * blocks + b) * w + j, (p * superBlocks + (b >> superShift)) * w + j)
                return Self.superBlockValue(code: Float(q), superScale: scales[f], scaleCode: scaleCodes[c],
                                            superOffset: offsets[f], offsetCode: offsetCodes[c])
            }
            return Float(q) * scales[(p * blocks + b) * w + j] + offsets[(p * blocks + b) * w + j]
        }
    }

    /// The weight a super-block code stands for: Float(q)·(S·Float(sc)) + (−(M·Float(mc))) — the f32 operations of
    /// GGUF's K-quant dequantization (d·sc and dmin·mn first, then q·d₁ − m₁), so the same value bit for bit.
    @inlinable
    public static func superBlockValue(code: Float, superScale: Float, scaleCode: Int8, superOffset: Float, offsetCode: Int8) -> Float {
        code * (superScale * Float(scaleCode)) + -(superOffset * Float(offsetCode))
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
