import Foundation
import FuRATensor

// Legend: B sequences, T positions, H heads, D head dim (pairs (i, i + D/2) rotate together).

/// Rotary position embeddings in HF's rotate-half convention, with Llama-3 frequency scaling.
///
/// For pair i < D/2 at position p with angle θ = p · f_i:
/// y[i] = x[i]·cos θ − x[i+D/2]·sin θ and y[i+D/2] = x[i+D/2]·cos θ + x[i]·sin θ.
/// The map is a rotation, so its backward is the rotation by −θ.
public struct RotaryEmbedding: Sendable, Equatable {
    /// Llama 3's `rope_scaling` of type `llama3`.
    public struct Llama3Scaling: Sendable, Equatable {
        public var factor: Double
        public var lowFrequencyFactor: Double
        public var highFrequencyFactor: Double
        public var originalContextLength: Int
        public init(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContextLength: Int) {
            self.factor = factor; self.lowFrequencyFactor = lowFrequencyFactor
            self.highFrequencyFactor = highFrequencyFactor; self.originalContextLength = originalContextLength
        }
    }

    public let headDim: Int
    /// The frequencies f_i (D/2,), after scaling.
    public let inverseFrequencies: [Double]
    /// The base θ; Llama 3 `scaling` and the per-frequency divisors, as given.
    public let theta: Double
    public let scaling: Llama3Scaling?
    public let frequencyDivisors: [Double]?

    /// - Parameter frequencyDivisors: optional per-frequency divisors (D/2,) as llama.cpp's
    ///   `rope_freqs.weight` stores Llama 3 scaling; applied after `scaling`.
    public init(headDim: Int, theta: Double, scaling: Llama3Scaling? = nil, frequencyDivisors: [Double]? = nil) throws {
        guard headDim > 0, headDim % 2 == 0 else {
            throw LayerError.invalidOption(layer: "RotaryEmbedding", option: "head_dim", value: "\(headDim)", reason: "must be even and positive")
        }
        self.headDim = headDim
        self.theta = theta; self.scaling = scaling; self.frequencyDivisors = frequencyDivisors
        let half = headDim / 2
        var f = (0..<half).map { 1 / pow(theta, Double(2 * $0) / Double(headDim)) }
        if let s = scaling { f = f.map { Self.llama3Adjust($0, s) } }
        if let divisors = frequencyDivisors {
            guard divisors.count == half, divisors.allSatisfy({ $0 > 0 }) else {
                throw LayerError.invalidOption(layer: "RotaryEmbedding", option: "frequency divisors", value: "\(divisors.count) values",
                                               reason: "need \(half) positive values")
            }
            f = zip(f, divisors).map { $0 / $1 }
        }
        inverseFrequencies = f
    }

    /// Llama 3's adjustment of one frequency: long wavelengths are divided by `factor`, short ones
    /// are kept, and the band between is interpolated smoothly.
    static func llama3Adjust(_ frequency: Double, _ s: Llama3Scaling) -> Double {
        let old = Double(s.originalContextLength)
        let lowWavelength = old / s.lowFrequencyFactor
        let highWavelength = old / s.highFrequencyFactor
        let wavelength = 2 * Double.pi / frequency
        if wavelength < highWavelength { return frequency }
        if wavelength > lowWavelength { return frequency / s.factor }
        let smooth = (old / wavelength - s.lowFrequencyFactor) / (s.highFrequencyFactor - s.lowFrequencyFactor)
        return (1 - smooth) * frequency / s.factor + smooth * frequency
    }

    /// cos and sin tables (T, D/2) for positions start..<start+T, in `Float`.
    public func tables(positions count: Int, start: Int) -> (cos: [Float], sin: [Float]) {
        let half = headDim / 2
        var c = [Float](repeating: 0, count: count * half), s = c
        for t in 0..<count {
            let p = Double(start + t)
            for i in 0..<half {
                // Like HF: the angle is formed in Float (p·f), then its cos and sin.
                let angle = Double(Float(p) * Float(inverseFrequencies[i]))
                c[t * half + i] = Float(Foundation.cos(angle))
                s[t * half + i] = Float(Foundation.sin(angle))
            }
        }
        return (c, s)
    }

    /// Rotates x (B, T, H, D) in place (flattened rows of H·D allowed); position of (b, t) is start + t.
    /// `inverse` rotates by −θ (the backward).
    public func apply(_ x: inout Tensor, batch: Int, time: Int, heads: Int, start: Int = 0, inverse: Bool = false) throws {
        let d = headDim, half = d / 2
        guard x.count == batch * time * heads * d else {
            throw LayerError.badInput(layer: "RotaryEmbedding", expected: "(\(batch), \(time), \(heads), \(d))", actual: x.shape)
        }
        let (cosT, sinT) = tables(positions: time, start: start)
        let sign: Float = inverse ? -1 : 1
        x.withUnsafeMutableBufferPointer { px in
            cosT.withUnsafeBufferPointer { pc in
                sinT.withUnsafeBufferPointer { ps in
                    let (base, cb, sb) = (px.baseAddress!, pc.baseAddress!, ps.baseAddress!)
                    // Rows (b, t) side by side: each element is rotated once, so the result does not depend on threads.
                    Threading.parallelFor(batch * time, minimumPerChunk: max(1, 4096 / max(1, heads * d))) { first, last in
                        for row in first..<last {
                            let cr = (row % time) * half
                            for h in 0..<heads {
                                let v = base + (row * heads + h) * d
                                for i in 0..<half {
                                    let c = cb[cr + i], s = sign * sb[cr + i]
                                    let a = v[i], bb = v[i + half]
                                    v[i] = a * c - bb * s
                                    v[i + half] = bb * c + a * s
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
