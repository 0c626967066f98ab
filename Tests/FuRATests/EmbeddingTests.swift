import FuRATensor
import FuRATestSupport
import Testing
import FuRANN

@Suite struct EmbeddingTests {
    @Test func forwardCopiesRowsAndBackwardScatters() throws {
        let table = TestSupport.random([7, 5], seed: 1)
        let weight = Parameter(name: "model.embed_tokens.weight", value: table, trainable: true)
        let layer = try Embedding(weight: weight)
        let ids = [3, 0, 3, 6]
        let y = try layer.forward(ids)
        for (n, id) in ids.enumerated() { for c in 0..<5 { #expect(y[n, c] == table[id, c]) } }
        let r = TestSupport.random([4, 5], seed: 2)
        try layer.backward(r, ids: ids)
        let gap = try gradientGap(analytic: weight.gradient!, at: table, maximum: 35) { t in
            probe(try Embedding(weight: Parameter(name: "w", value: t)).forward(ids), r)
        }
        #expect(gap < 1e-3)
        // Row 3 appears twice: its gradient is the sum of both rows of r.
        #expect(abs(weight.gradient![3, 1] - (r[0, 1] + r[2, 1])) < 1e-6)
    }

    @Test func rejectsOutOfRangeIds() throws {
        let layer = try Embedding(weight: Parameter(name: "w", value: TestSupport.random([4, 2], seed: 3)))
        #expect(throws: LayerError.self) { try layer.forward([4]) }
        #expect(throws: LayerError.self) { try layer.forward([-1]) }
    }
}
