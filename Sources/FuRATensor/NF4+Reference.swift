/// The simple scalar twin of the NF4 codec: bitsandbytes' algorithm written out literally, element by
/// element, for the tests to compare the fast codec against.
public enum NF4Reference {
    /// bitsandbytes' 4-level decision tree over the midpoint thresholds (branch up only on `x > t`).
    public static func code(normalized x: Float) -> UInt8 {
        let t = NF4.thresholds
        var low = 0, high = 15  // codes in low...high remain possible
        while low < high {
            let mid = (low + high) / 2  // threshold between levels mid and mid+1
            if x > t[mid] { low = mid + 1 } else { high = mid }
        }
        return UInt8(low)
    }

    /// Codes (one per element, unpacked) and absmax per block of 64 of a flat array.
    public static func quantize(_ x: [Float]) -> (codes: [UInt8], absmax: [Float]) {
        var codes: [UInt8] = []
        var absmax: [Float] = []
        var start = 0
        while start < x.count {
            let block = x[start..<Swift.min(x.count, start + NF4.blockSize)]
            var m: Float = 0
            for v in block where Swift.abs(v) > m { m = Swift.abs(v) }
            absmax.append(m)
            let inverse: Float = m == 0 ? 0 : 1 / m
            for v in block { codes.append(code(normalized: v * inverse)) }
            start += NF4.blockSize
        }
        return (codes, absmax)
    }

    /// Packs codes two per byte, first in the high nibble; an odd tail is padded with code 7 (level 0).
    public static func pack(_ codes: [UInt8]) -> [UInt8] {
        stride(from: 0, to: codes.count, by: 2).map { i in
            (codes[i] << 4) | (i + 1 < codes.count ? codes[i + 1] : 7)
        }
    }

    /// x̂[i] = level[code[i]] · absmax[i / 64].
    public static func dequantize(codes: [UInt8], absmax: [Float]) -> [Float] {
        codes.indices.map { NF4.levels[Int(codes[$0])] * absmax[$0 / NF4.blockSize] }
    }

    /// The nearest entry of a sorted map by exhaustive search (ties to the lower index).
    public static func nearest(_ map: [Float], _ x: Float) -> Int {
        var best = 0
        for i in map.indices where Swift.abs(map[i] - x) < Swift.abs(map[best] - x) { best = i }
        return best
    }
}
