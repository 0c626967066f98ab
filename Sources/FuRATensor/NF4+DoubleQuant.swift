// Legend: K absmax values (one per NF4 block), blocks of 256 of them.

/// Double quantization of NF4 absmax values, as bitsandbytes `compress_statistics=True` (Docs/methods.md §10).
///
/// `offset = mean(absmax)`; `absmax − offset` is quantized blockwise (256 values per block) with
/// 8-bit codes into the signed dynamic map, one `Float` `absmax2` per block; dequantization is
/// `dynamicMap[code] · absmax2 + offset`.
public struct NF4DoubleQuantizedAbsmax: Equatable, Sendable {
    /// Absmax values per second-level block.
    public static let blockSize = 256

    /// One 8-bit code per NF4 block.
    public let codes: [UInt8]
    /// One absmax per 256 codes.
    public let absmax2: [Float]
    /// The mean of the original absmax values.
    public let offset: Float

    /// Wraps stored parts.
    public init(codes: [UInt8], absmax2: [Float], offset: Float) {
        self.codes = codes
        self.absmax2 = absmax2
        self.offset = offset
    }

    /// Quantizes absmax values. absmax: (K,), finite.
    public init(absmax: [Float]) {
        let k = absmax.count
        var sum = 0.0
        for a in absmax { sum += Double(a) }
        let offset = k > 0 ? Float(sum / Double(k)) : 0
        let centered = absmax.map { $0 - offset }
        let (codes, absmax2) = DynamicMap.quantizeBlockwise(centered, blockSize: Self.blockSize)
        self.init(codes: codes, absmax2: absmax2, offset: offset)
    }

    /// The dequantized absmax of NF4 blocks `range`.
    public func dequantize(blocks range: Range<Int>) -> [Float] {
        let map = DynamicMap.signed
        return range.map { b in map[Int(codes[b])] * absmax2[b / Self.blockSize] + offset }
    }
}

/// The signed 8-bit dynamic quantization map of bitsandbytes and its blockwise quantizer.
public enum DynamicMap {
    /// `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`: 256 sorted values in [−1, 1].
    ///
    /// For i in 0..<7: `fraction_items = 2^i + 1` boundaries `linspace(0.1, 1)` in `Float` (computed as
    /// torch does: from the start for the first half, from the end for the second), their midpoints,
    /// times `±10^(i−6)` (the scalar rounded to `Float` first); then 0 and 1; sorted. The tests check it
    /// bit for bit against bitsandbytes' own map.
    public static let signed: [Float] = {
        var data: [Float] = []
        for i in 0..<7 {
            let items = (1 << i) + 1
            let boundaries = linspaceFloat(0.1, 1, items)
            let means = (0..<(items - 1)).map { (boundaries[$0] + boundaries[$0 + 1]) / 2 }
            let scale = Float(pow10(i - 6))
            data += means.map { scale * $0 }
            data += means.map { -scale * $0 }
        }
        data.append(0)
        data.append(1)
        return data.sorted()
    }()

    private static func pow10(_ e: Int) -> Double {
        var v = 1.0
        for _ in 0..<Swift.abs(e) { v *= 10 }
        return e < 0 ? 1 / v : v
    }

    /// `torch.linspace(start, end, steps, dtype=float32)` on the CPU: a `Float` step, then fused
    /// multiply-adds from the start for the first half and from the end for the second.
    static func linspaceFloat(_ start: Float, _ end: Float, _ steps: Int) -> [Float] {
        guard steps > 1 else { return steps == 1 ? [start] : [] }
        let step = (end - start) / Float(steps - 1)
        let half = steps / 2
        return (0..<steps).map { i in
            i < half ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(steps - i - 1))
        }
    }

    /// Blockwise 8-bit quantization into `signed`: per block absmax2 = max|x|, code = bitsandbytes'
    /// search for `x · (1/absmax2)`. values: (K,) → codes (K,), absmax2 (⌈K/blockSize⌉,).
    public static func quantizeBlockwise(_ values: [Float], blockSize: Int) -> (codes: [UInt8], absmax2: [Float]) {
        let map = signed
        let blocks = (values.count + blockSize - 1) / blockSize
        var codes = [UInt8](repeating: 0, count: values.count)
        var absmax2 = [Float](repeating: 0, count: blocks)
        for b in 0..<blocks {
            let range = (b * blockSize)..<Swift.min(values.count, (b + 1) * blockSize)
            let m = values[range].reduce(Float(0)) { Swift.max($0, Swift.abs($1)) }
            absmax2[b] = m
            let inverse: Float = m > 0 ? 1 / m : 0
            for i in range { codes[i] = search(map, values[i] * inverse) }
        }
        return (codes, absmax2)
    }

    /// bitsandbytes' nearest-code search over a sorted 256-entry map: seven halving steps from index 127
    /// bracket x between two probed entries, then the nearer of the bracket and the final probe wins;
    /// a value exactly on a midpoint goes to the final probe.
    public static func search(_ map: [Float], _ x: Float) -> UInt8 {
        var pivot = 127, upperPivot = 255, lowerPivot = 0
        var lower: Float = -1, upper: Float = 1
        var value = map[pivot]
        var step = 64
        while step > 0 {
            if x > value {
                lowerPivot = pivot; lower = value; pivot += step
            } else {
                upperPivot = pivot; upper = value; pivot -= step
            }
            value = map[pivot]
            step >>= 1
        }
        if upperPivot == 255 { upper = map[255] }
        if lowerPivot == 0 { lower = map[0] }
        if x > value {
            return UInt8(x > (upper + value) * 0.5 ? upperPivot : pivot)
        } else {
            return UInt8(x < (lower + value) * 0.5 ? lowerPivot : pivot)
        }
    }
}
