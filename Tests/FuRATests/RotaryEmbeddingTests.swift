import Foundation
import FuRATensor
import FuRATestSupport
import Testing
import FuRANN

@Suite struct RotaryEmbeddingTests {
    /// HF's formula written out: q·cos(emb) + rotate_half(q)·sin(emb), emb = cat(freqs, freqs).
    func reference(_ x: Tensor, batch: Int, time: Int, heads: Int, d: Int, theta: Double, start: Int) -> Tensor {
        var out = x
        for b in 0..<batch { for t in 0..<time { for h in 0..<heads {
            let base = ((b * time + t) * heads + h) * d
            for i in 0..<d {
                let f = 1 / pow(theta, Double(2 * (i % (d / 2))) / Double(d))
                let angle = Double(start + t) * f
                let rotated = i < d / 2 ? -Double(x.storage[base + i + d / 2]) : Double(x.storage[base + i - d / 2])
                out.storage[base + i] = Float(Double(x.storage[base + i]) * cos(angle) + rotated * sin(angle))
            }
        } } }
        return out
    }

    @Test func forwardMatchesRotateHalfReference() throws {
        let rope = try RotaryEmbedding(headDim: 8, theta: 10000)
        let x = TestSupport.random([2 * 5, 3 * 8], seed: 1)
        var y = x
        try rope.apply(&y, batch: 2, time: 5, heads: 3, start: 4)
        #expect(try y.relativeError(to: reference(x, batch: 2, time: 5, heads: 3, d: 8, theta: 10000, start: 4)) < 1e-5)
    }

    @Test func backwardIsInverseRotationAndMatchesFiniteDifferences() throws {
        let rope = try RotaryEmbedding(headDim: 6, theta: 500)
        let x = TestSupport.random([3, 12], seed: 2), r = TestSupport.random([3, 12], seed: 3)
        var dX = r
        try rope.apply(&dX, batch: 1, time: 3, heads: 2, inverse: true)
        let gap = try gradientGap(analytic: dX, at: x) { t in
            var y = t
            try rope.apply(&y, batch: 1, time: 3, heads: 2)
            return probe(y, r)
        }
        #expect(gap < 1e-3)
        var back = x
        try rope.apply(&back, batch: 1, time: 3, heads: 2)
        try rope.apply(&back, batch: 1, time: 3, heads: 2, inverse: true)
        #expect(try back.relativeError(to: x) < 1e-6)
    }

    @Test func llama3ScalingFollowsItsThreeBands() throws {
        let s = RotaryEmbedding.Llama3Scaling(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 8192)
        let plain = try RotaryEmbedding(headDim: 128, theta: 500_000)
        let scaled = try RotaryEmbedding(headDim: 128, theta: 500_000, scaling: s)
        var bands = Set<Int>()
        for (f, g) in zip(plain.inverseFrequencies, scaled.inverseFrequencies) {
            let wavelength = 2 * Double.pi / f
            if wavelength < 8192 / 4 { #expect(g == f); bands.insert(0) }
            else if wavelength > 8192 { #expect(abs(g - f / 8) < 1e-15); bands.insert(2) }
            else {
                let smooth = (8192 / wavelength - 1) / 3
                #expect(abs(g - ((1 - smooth) * f / 8 + smooth * f)) < 1e-15)
                bands.insert(1)
            }
        }
        #expect(bands == [0, 1, 2])
        #expect(throws: LayerError.self) { try RotaryEmbedding(headDim: 7, theta: 10000) }
    }
}
