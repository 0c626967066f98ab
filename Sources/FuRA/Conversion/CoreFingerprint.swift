import FuRANN
import FuRATensor

/// A tolerance-checked fingerprint of a module's frozen tensors: their Frobenius norm and four signed sums
/// with fixed pseudo-random ±1 weights.
///
/// Recomputing a conversion from the same base weights gives the same values up to float rounding (the
/// tolerance absorbs thread-count or BLAS differences); a different base moves them far past the tolerance.
public enum CoreFingerprint {
    /// The number of values: norm + 4 sketches.
    public static let count = 5
    /// Allowed difference of each value, relative to the norm.
    public static let relativeTolerance = 1e-4

    /// The fingerprint of `tensors` (any shapes, taken in order as one flat vector).
    ///
    /// The four sketches run as the lanes of one `SIMD4` sum with branch-free signs: the same additions in the same
    /// order as `ofReference`, so the values are identical, without a mispredicted branch per element and sketch.
    public static func of(_ tensors: [Tensor]) -> [Double] {
        var sumSquares = 0.0
        var sketches = SIMD4<Double>(repeating: 0)
        let shifts = SIMD4<UInt64>(60, 59, 58, 57)
        var index: UInt64 = 0
        for t in tensors {
            t.withUnsafeBufferPointer { p in
                for v in p {
                    let x = Double(v)
                    sumSquares += x * x
                    let bits = SIMD4<UInt64>(repeating: hash(index)) &>> shifts & 1
                    sketches += SIMD4<Double>(repeating: x).replacing(with: -x, where: bits .== 0)
                    index &+= 1
                }
            }
        }
        return [sumSquares.squareRoot(), sketches[0], sketches[1], sketches[2], sketches[3]]
    }

    /// The simple twin of `of`: one scalar loop, sketch k adds ±x by bit 60 − k of the element's hash.
    static func ofReference(_ tensors: [Tensor]) -> [Double] {
        var sumSquares = 0.0
        var sketches = [Double](repeating: 0, count: 4)
        var index: UInt64 = 0
        for t in tensors {
            for v in t.storage {
                let x = Double(v)
                sumSquares += x * x
                let h = hash(index)
                for k in 0..<4 { sketches[k] += (h >> UInt64(60 - k) & 1) == 1 ? x : -x }
                index &+= 1
            }
        }
        return [sumSquares.squareRoot()] + sketches
    }

    /// The pseudo-random 64-bit hash of a flat element index (a splitmix-style mix of index + 1).
    @inline(__always)
    static func hash(_ index: UInt64) -> UInt64 {
        var h = (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 31
        return h &* 0xBF58_476D_1CE4_E5B9
    }

    /// Whether `a` and `b` agree within the tolerance.
    public static func matches(_ a: [Double], _ b: [Double]) -> Bool {
        guard a.count == count, b.count == count else { return false }
        let scale = max(a[0], b[0], 1e-30)
        return zip(a, b).allSatisfy { abs($0 - $1) <= relativeTolerance * scale }
    }

    /// The fingerprint an adapter file records for `layer`: of its frozen tensors, or for QFuRA of the `Float`
    /// frozen core before NF4 quantization (`QBTTLayer.sourceFingerprint`). The NF4 codes are a deterministic function
    /// of that core and the stored quantization options, so fingerprinting the source checks the base weights without
    /// depending on rare code flips of values that sit on a decision threshold.
    public static func of(layer: any LinearLayer) -> [Double] {
        if let q = layer as? QBTTLayer { return q.sourceFingerprint }
        return of(frozenTensors(of: layer))
    }

    /// The frozen tensors of a layer: its parameters that do not train, bias excluded.
    public static func frozenTensors(of layer: any LinearLayer) -> [Tensor] {
        layer.parameters.filter { !$0.parameter.trainable && $0.name != "bias" }.map(\.parameter.value)
    }
}
