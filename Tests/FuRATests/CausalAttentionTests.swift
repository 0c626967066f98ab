import Foundation
import FuRATensor
import FuRATestSupport
import Testing
import FuRANN

@Suite struct CausalAttentionTests {
    let batch = 2, tq = 3, tk = 5, h = 4, g = 2, d = 3
    let lengths = [5, 4]

    /// Loops over every (b, head, i, j) in Double with the masks written out.
    func reference(q: Tensor, k: Tensor, v: Tensor, window: Int? = nil, scale: Double? = nil) -> Tensor {
        var out = Tensor.zeros([batch * tq, h * d])
        let offset = tk - tq
        for b in 0..<batch { for head in 0..<h {
            let kv = head / (h / g)
            for i in 0..<tq {
                var scores = [Double]()
                for j in 0..<tk where j <= offset + i && j < lengths[b] {
                    if let window, j <= offset + i - window { scores.append(-.infinity); continue }
                    var s = 0.0
                    for e in 0..<d { s += Double(q.storage[((b * tq + i) * h + head) * d + e]) * Double(k.storage[((b * tk + j) * g + kv) * d + e]) }
                    scores.append(s * (scale ?? 1 / Double(d).squareRoot()))
                }
                let m = scores.max() ?? 0
                let total = scores.reduce(0) { $0 + exp($1 - m) }
                for e in 0..<d {
                    var acc = 0.0
                    for (j, s) in scores.enumerated() { acc += exp(s - m) / total * Double(v.storage[((b * tk + j) * g + kv) * d + e]) }
                    out.storage[((b * tq + i) * h + head) * d + e] = Float(acc)
                }
            }
        } }
        return out
    }

    func inputs() -> (Tensor, Tensor, Tensor) {
        (TestSupport.random([batch * tq, h * d], seed: 1), TestSupport.random([batch * tk, g * d], seed: 2),
         TestSupport.random([batch * tk, g * d], seed: 3))
    }

    @Test func forwardMatchesNaiveReferenceWithPastAndPadding() throws {
        let (q, k, v) = inputs()
        let layer = try CausalAttention(heads: h, keyValueHeads: g, headDim: d)
        for (threads, blockRows) in [(1, 64), (2, 64), (1, 2), (2, 1)] {
            Threading.setThreadCount(threads)
            layer.blockRows = blockRows
            let y = try layer.forward(q: q, k: k, v: v, batch: batch, keyLengths: lengths, keepForBackward: false)
            #expect(try y.relativeError(to: reference(q: q, k: k, v: v)) < 1e-5)
        }
        Threading.setThreadCount(1)
    }

    @Test(arguments: [64, 2, 1]) func backwardMatchesFiniteDifferences(blockRows: Int) throws {
        let (q, k, v) = inputs()
        let r = TestSupport.random([batch * tq, h * d], seed: 4)
        let layer = try CausalAttention(heads: h, keyValueHeads: g, headDim: d)
        layer.blockRows = blockRows
        _ = try layer.forward(q: q, k: k, v: v, batch: batch, keyLengths: lengths, keepForBackward: true)
        let (dQ, dK, dV) = try layer.backward(r)
        func loss(_ q: Tensor, _ k: Tensor, _ v: Tensor) throws -> Double {
            probe(try layer.forward(q: q, k: k, v: v, batch: batch, keyLengths: lengths, keepForBackward: false), r)
        }
        #expect(try gradientGap(analytic: dQ, at: q, maximum: 36) { try loss($0, k, v) } < 1e-2)
        #expect(try gradientGap(analytic: dK, at: k, maximum: 30) { try loss(q, $0, v) } < 1e-2)
        #expect(try gradientGap(analytic: dV, at: v, maximum: 30) { try loss(q, k, $0) } < 1e-2)
        // Padded keys (sequence 1, position 4) get no gradient.
        for e in 0..<(g * d) { #expect(dK[(1 * tk + 4), e] == 0 && dV[(1 * tk + 4), e] == 0) }
    }

    /// Gemma's local layers: a sliding window of 2 keys and a scale other than 1/√D, forward and backward.
    @Test func slidingWindowAndScaleMatchReferenceAndFiniteDifferences() throws {
        let (q, k, v) = inputs()
        let r = TestSupport.random([batch * tq, h * d], seed: 4)
        let layer = try CausalAttention(heads: h, keyValueHeads: g, headDim: d, scale: 0.7, window: 2)
        for blockRows in [64, 1] {
            layer.blockRows = blockRows
            let y = try layer.forward(q: q, k: k, v: v, batch: batch, keyLengths: lengths, keepForBackward: true)
            #expect(try y.relativeError(to: reference(q: q, k: k, v: v, window: 2, scale: 0.7)) < 1e-5)
            let (dQ, dK, dV) = try layer.backward(r)
            func loss(_ q: Tensor, _ k: Tensor, _ v: Tensor) throws -> Double {
                probe(try layer.forward(q: q, k: k, v: v, batch: batch, keyLengths: lengths, keepForBackward: false), r)
            }
            #expect(try gradientGap(analytic: dQ, at: q, maximum: 36) { try loss($0, k, v) } < 1e-2)
            #expect(try gradientGap(analytic: dK, at: k, maximum: 30) { try loss(q, $0, v) } < 1e-2)
            #expect(try gradientGap(analytic: dV, at: v, maximum: 30) { try loss(q, k, $0) } < 1e-2)
            // Key 0 lies outside every query's window (queries sit at positions 2, 3, 4): no gradient.
            for e in 0..<(g * d) { #expect(dK[0, e] == 0 && dV[0, e] == 0) }
        }
        #expect(throws: LayerError.self) { try CausalAttention(heads: h, keyValueHeads: g, headDim: d, window: 0) }
    }

    @Test func rejectsBadShapesAndLengths() throws {
        let (q, k, v) = inputs()
        let layer = try CausalAttention(heads: h, keyValueHeads: g, headDim: d)
        #expect(throws: LayerError.self) { try layer.forward(q: q, k: k, v: v, batch: batch, keyLengths: [6, 1], keepForBackward: false) }
        #expect(throws: LayerError.self) { try CausalAttention(heads: 3, keyValueHeads: 2, headDim: 4) }
        #expect(throws: LayerError.self) { try layer.backward(q) }
    }
}
