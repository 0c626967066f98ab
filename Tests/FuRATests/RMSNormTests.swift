import FuRATensor
import FuRATestSupport
import Testing
import FuRANN

@Suite struct RMSNormTests {
    @Test func forwardMatchesNaiveReference() throws {
        let x = TestSupport.random([3, 10], seed: 1, std: 2), w = TestSupport.random([10], seed: 2)
        let y = try RMSNorm(weight: Parameter(name: "w", value: w), epsilon: 1e-5).forward(x, keepForBackward: false)
        for r in 0..<3 {
            var ms = 0.0
            for i in 0..<10 { ms += Double(x[r, i]) * Double(x[r, i]) }
            let inv = 1 / (ms / 10 + 1e-5).squareRoot()
            for i in 0..<10 { #expect(abs(Double(y[r, i]) - Double(x[r, i]) * inv * Double(w[i])) < 1e-5) }
        }
    }

    @Test func backwardMatchesFiniteDifferences() throws {
        let x = TestSupport.random([4, 12], seed: 3), w = TestSupport.random([12], seed: 4), r = TestSupport.random([4, 12], seed: 5)
        let weight = Parameter(name: "w", value: w, trainable: true)
        let norm = try RMSNorm(weight: weight, epsilon: 1e-5)
        _ = try norm.forward(x, keepForBackward: true)
        let dX = try norm.backward(r)
        let gapX = try gradientGap(analytic: dX, at: x, step: 1e-3) { t in
            probe(try RMSNorm(weight: Parameter(name: "w", value: w), epsilon: 1e-5).forward(t, keepForBackward: false), r)
        }
        let gapW = try gradientGap(analytic: weight.gradient!, at: w, step: 1e-3) { t in
            probe(try RMSNorm(weight: Parameter(name: "w", value: t), epsilon: 1e-5).forward(x, keepForBackward: false), r)
        }
        #expect(gapX < 1e-2)
        #expect(gapW < 1e-2)
    }

    /// Gemma's form: gain 1 + w, forward against the formula and backward against finite differences.
    @Test func onePlusWeightFormMatchesReferenceAndFiniteDifferences() throws {
        let x = TestSupport.random([4, 12], seed: 13), w = TestSupport.random([12], seed: 14), r = TestSupport.random([4, 12], seed: 15)
        func make(_ w: Tensor, trainable: Bool = false) throws -> RMSNorm {
            try RMSNorm(weight: Parameter(name: "w", value: w, trainable: trainable), epsilon: 1e-6, form: .onePlusWeight)
        }
        let norm = try make(w, trainable: true)
        let y = try norm.forward(x, keepForBackward: true)
        for row in 0..<4 {
            var ms = 0.0
            for i in 0..<12 { ms += Double(x[row, i]) * Double(x[row, i]) }
            let inv = 1 / (ms / 12 + 1e-6).squareRoot()
            for i in 0..<12 { #expect(abs(Double(y[row, i]) - Double(x[row, i]) * inv * (1 + Double(w[i]))) < 1e-5) }
        }
        let dX = try norm.backward(r)
        #expect(try gradientGap(analytic: dX, at: x, step: 1e-3) { probe(try make(w).forward($0, keepForBackward: false), r) } < 1e-2)
        #expect(try gradientGap(analytic: norm.weight.gradient!, at: w, step: 1e-3) { probe(try make($0).forward(x, keepForBackward: false), r) } < 1e-2)
    }

    @Test func frozenWeightGetsNoGradient() throws {
        let weight = Parameter(name: "w", value: TestSupport.random([6], seed: 6))
        let norm = try RMSNorm(weight: weight, epsilon: 1e-6)
        _ = try norm.forward(TestSupport.random([2, 6], seed: 7), keepForBackward: true)
        _ = try norm.backward(TestSupport.random([2, 6], seed: 8))
        #expect(weight.gradient == nil)
        #expect(throws: LayerError.self) { try norm.forward(Tensor.zeros([2, 5]), keepForBackward: false) }
    }
}
