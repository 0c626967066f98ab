// Legend: n elements of the flattened tensor, blocks of B = 64 (NF4) and 256 (double quantization).

/// The 4-bit NormalFloat codec in the exact layout of bitsandbytes `Params4bit` (Docs/methods.md §10).
///
/// Flatten row-major; blocks of 64 consecutive values; per block `absmax = max|x|`; each value's
/// code is the NF4 level nearest to `x · (1/absmax)` (bitsandbytes multiplies by the reciprocal,
/// then walks a decision tree whose thresholds are the midpoints of adjacent levels; a value
/// exactly on a midpoint takes the LOWER code, because the tree branches up only on `x > t`).
/// Two codes per byte, the first element in the high nibble. Optional double quantization of the
/// absmax values (see `NF4DoubleQuantizedAbsmax`).
public enum NF4 {
    /// Values per absmax block (bitsandbytes default; QFuRA does not override it).
    public static let blockSize = 64

    /// The 16 NF4 levels, index = code.
    public static let levels: [Float] = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ]

    /// The 15 decision thresholds of the bitsandbytes CUDA kernel: each midpoint of adjacent levels is
    /// computed in `Double`, written as its shortest decimal (the kernel's float literal) and read as `Float`.
    ///
    /// The decimal step matters once: the midpoint of 0.7229568… and 1.0 is exactly halfway between two
    /// floats; its literal 0.8614784181118011 reads as 0.8614784, whereas rounding the exact midpoint (as the
    /// default CPU backend's `bucketize` bounds do) gives 0.86147845, one ulp higher.
    public static let thresholds: [Float] = (0..<15).map {
        let midpoint = (Double(levels[$0]) + Double(levels[$0 + 1])) / 2
        return Float("\(midpoint)") ?? Float(midpoint)
    }

    /// The largest half-gap between adjacent levels: the worst-case per-element error is this times absmax.
    public static let maximumHalfGap: Float = (0..<15).map { (levels[$0 + 1] - levels[$0]) / 2 }.max() ?? 0

    @usableFromInline static let thresholdVector: SIMD16<Float> = {
        var v = SIMD16<Float>(repeating: .infinity)
        for i in 0..<15 { v[i] = thresholds[i] }
        return v
    }()

    /// The code of a normalized value: the number of thresholds strictly below it (NaN → 0, as the tree).
    @inlinable
    public static func code(normalized x: Float) -> UInt8 {
        let above = SIMD16<Float>(repeating: x) .> thresholdVector
        var count: UInt8 = 0
        for i in 0..<15 where above[i] { count += 1 }
        return count
    }

    /// The codes of 16 normalized values at once (same rule as `code(normalized:)`).
    @inlinable
    static func codes16(_ v: SIMD16<Float>) -> SIMD16<UInt8> {
        var count = SIMD16<Int32>(repeating: 0)
        for t in thresholds { count.replace(with: count &+ 1, where: v .> SIMD16<Float>(repeating: t)) }
        return SIMD16<UInt8>(truncatingIfNeeded: count)
    }

    /// Quantizes a tensor of any shape (flattened row-major).
    ///
    /// - Parameters: `tensor` any shape; `name` names it in errors; `doubleQuantization` compresses absmax.
    /// - Throws: `NF4Error.nonFinite` when an element is NaN or infinite.
    public static func quantize(_ tensor: Tensor, doubleQuantization: Bool, name: String = "tensor") throws -> NF4Tensor {
        let n = tensor.count
        let blocks = (n + blockSize - 1) / blockSize
        var packed = [UInt8](repeating: 0, count: (n + 1) / 2)
        var absmax = [Float](repeating: 0, count: blocks)
        var firstBad: Int?
        tensor.withUnsafeBufferPointer { x in
            packed.withUnsafeMutableBufferPointer { q in
                absmax.withUnsafeMutableBufferPointer { a in
                    Threading.parallelFor(blocks, minimumPerChunk: 256) { start, end in
                        for b in start..<end {
                            let lo = b * blockSize, hi = Swift.min(n, lo + blockSize)
                            var m: Float = 0
                            for i in lo..<hi {
                                guard x[i].isFinite else { return }
                                m = Swift.max(m, Swift.abs(x[i]))
                            }
                            a[b] = m
                            // A zero block maps every value to the level 0.0 (code 7), as the default backend.
                            let inverse: Float = m > 0 ? 1 / m : 0
                            var i = lo
                            // 16 elements at a time: each code is the number of thresholds below the value.
                            while i + 16 <= hi {
                                let codes = codes16(UnsafeRawPointer(x.baseAddress! + i).loadUnaligned(as: SIMD16<Float>.self) * inverse)
                                for k in 0..<8 { q[(i >> 1) + k] = (codes[2 * k] << 4) | codes[2 * k + 1] }
                                i += 16
                            }
                            while i < hi {
                                let c0 = code(normalized: x[i] * inverse)
                                let c1 = i + 1 < hi ? code(normalized: x[i + 1] * inverse) : 7
                                q[i >> 1] = (c0 << 4) | c1
                                i += 2
                            }
                        }
                    }
                }
            }
            firstBad = x.firstIndex { !$0.isFinite }
        }
        if let i = firstBad { throw NF4Error.nonFinite(tensor: name, index: i, value: tensor.storage[i]) }
        let scales: NF4Scales = doubleQuantization
            ? .doubleQuantized(NF4DoubleQuantizedAbsmax(absmax: absmax)) : .plain(absmax: absmax)
        return NF4Tensor(shape: tensor.shape, packed: packed, scales: scales)
    }
}

/// The per-block scales of an NF4 tensor: plain `Float` absmax or double-quantized.
public enum NF4Scales: Equatable, Sendable {
    /// One `Float` absmax per block of 64.
    case plain(absmax: [Float])
    /// 8-bit codes per block of 64, one `Float` absmax2 per 256 blocks, one offset.
    case doubleQuantized(NF4DoubleQuantizedAbsmax)

    /// Number of blocks of 64.
    public var blockCount: Int {
        switch self {
        case let .plain(absmax): return absmax.count
        case let .doubleQuantized(dq): return dq.codes.count
        }
    }

    /// The dequantized absmax of blocks `range`.
    public func absmax(blocks range: Range<Int>) -> [Float] {
        switch self {
        case let .plain(absmax): return Array(absmax[range])
        case let .doubleQuantized(dq): return dq.dequantize(blocks: range)
        }
    }

    /// Bytes of storage.
    public var byteCount: Int {
        switch self {
        case let .plain(absmax): return 4 * absmax.count
        case let .doubleQuantized(dq): return dq.codes.count + 4 * dq.absmax2.count + 4
        }
    }
}

/// A tensor in NF4: packed codes (first element in the high nibble) and block scales.
public struct NF4Tensor: Equatable, Sendable {
    /// The logical shape (row-major).
    public let shape: [Int]
    /// ⌈n/2⌉ bytes; byte k holds element 2k in its high nibble and 2k+1 in its low nibble.
    public let packed: [UInt8]
    /// One scale per block of 64.
    public let scales: NF4Scales

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Wraps parts we produced ourselves (unchecked; use `validated` for parts read from a file).
    public init(shape: [Int], packed: [UInt8], scales: NF4Scales) {
        self.shape = shape
        self.packed = packed
        self.scales = scales
    }

    /// Builds a tensor from untrusted parts, checking the counts against the shape.
    public static func validated(shape: [Int], packed: [UInt8], scales: NF4Scales, name: String) throws -> NF4Tensor {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw NF4Error.badPart(tensor: name, part: "shape", expected: "non-negative dimensions", actual: "\(shape)")
        }
        let n = shape.reduce(1, *)
        guard packed.count == (n + 1) / 2 else {
            throw NF4Error.badPart(tensor: name, part: "packed codes", expected: "\((n + 1) / 2) bytes", actual: "\(packed.count)")
        }
        let blocks = (n + NF4.blockSize - 1) / NF4.blockSize
        guard scales.blockCount == blocks else {
            throw NF4Error.badPart(tensor: name, part: "absmax", expected: "\(blocks) blocks", actual: "\(scales.blockCount)")
        }
        if case let .doubleQuantized(dq) = scales {
            let blocks2 = (blocks + NF4DoubleQuantizedAbsmax.blockSize - 1) / NF4DoubleQuantizedAbsmax.blockSize
            guard dq.absmax2.count == blocks2 else {
                throw NF4Error.badPart(tensor: name, part: "absmax2", expected: "\(blocks2) values", actual: "\(dq.absmax2.count)")
            }
        }
        return NF4Tensor(shape: shape, packed: packed, scales: scales)
    }

    /// The 4-bit code of element `i`.
    @inlinable
    public func code(at i: Int) -> UInt8 { i & 1 == 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 0x0F }

    /// Bytes of storage (codes and scales).
    public var byteCount: Int { packed.count + scales.byteCount }
}

/// Errors of the NF4 codec from bad input.
public enum NF4Error: Error, Equatable, CustomStringConvertible {
    /// A value to quantize is NaN or infinite.
    case nonFinite(tensor: String, index: Int, value: Float)
    /// A stored part does not fit the shape.
    case badPart(tensor: String, part: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case let .nonFinite(tensor, index, value):
            return "NF4 quantize \(tensor): element \(index) is \(value); only finite values can be quantized (check the weights for NaN/inf)"
        case let .badPart(tensor, part, expected, actual):
            return "NF4 tensor \(tensor): \(part) expected \(expected), got \(actual) (the file is truncated or not bitsandbytes NF4)"
        }
    }
}
