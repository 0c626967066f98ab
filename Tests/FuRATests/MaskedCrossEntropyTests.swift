import Foundation
import FuRATensor
import FuRATestSupport
import Testing
import FuRANN

@Suite struct MaskedCrossEntropyTests {
    let n = 5, c = 4, v = 9
    let targets = [MaskedCrossEntropy.Target(row: 0, label: 3), .init(row: 2, label: 8), .init(row: 3, label: 0), .init(row: 4, label: 3)]

    @Test func lossMatchesFullLogSoftmaxReference() throws {
        let hidden = TestSupport.random([n, c], seed: 1), head = TestSupport.random([v, c], seed: 2)
        let result = try MaskedCrossEntropy.evaluate(hidden: hidden, head: Parameter(name: "h", value: head), targets: targets, computeGradient: false)
        var expected = 0.0
        for (k, t) in targets.enumerated() {
            let logits = (0..<v).map { j in (0..<c).reduce(0.0) { $0 + Double(hidden[t.row, $1]) * Double(head[j, $1]) } }
            let m = logits.max()!
            let lp = logits[t.label] - m - log(logits.reduce(0) { $0 + exp($1 - m) })
            #expect(abs(Double(result.logProbabilities[k]) - lp) < 1e-5)
            expected -= lp
        }
        #expect(abs(result.lossSum - expected) < 1e-5)
        #expect(result.dHidden == nil)
    }

    @Test func gradientsMatchFiniteDifferencesAndChunkingDoesNotMatter() throws {
        let hidden = TestSupport.random([n, c], seed: 3), head = TestSupport.random([v, c], seed: 4)
        let weight = Parameter(name: "h", value: head, trainable: true)
        let full = try MaskedCrossEntropy.evaluate(hidden: hidden, head: weight, targets: targets, lossScale: 0.5, computeGradient: true)
        let dHead = weight.gradient!
        weight.zeroGradient()
        let chunked = try MaskedCrossEntropy.evaluate(hidden: hidden, head: weight, targets: targets, lossScale: 0.5, computeGradient: true, chunkRows: 1)
        #expect(try chunked.dHidden!.relativeError(to: full.dHidden!) < 1e-6)
        #expect(try weight.gradient!.relativeError(to: dHead) < 1e-6)
        func loss(_ h: Tensor, _ w: Tensor) throws -> Double {
            0.5 * (try MaskedCrossEntropy.evaluate(hidden: h, head: Parameter(name: "h", value: w), targets: targets, computeGradient: false).lossSum)
        }
        #expect(try gradientGap(analytic: full.dHidden!, at: hidden) { try loss($0, head) } < 1e-2)
        #expect(try gradientGap(analytic: dHead, at: head, maximum: 36) { try loss(hidden, $0) } < 1e-2)
        // Row 1 has no target: no gradient flows there.
        for i in 0..<c { #expect(full.dHidden![1, i] == 0) }
    }

    @Test func rejectsLabelsOutsideTheVocabulary() {
        let hidden = Tensor.zeros([2, c]), head = Parameter(name: "h", value: Tensor.zeros([v, c]))
        #expect(throws: LayerError.self) {
            try MaskedCrossEntropy.evaluate(hidden: hidden, head: head, targets: [.init(row: 0, label: v)], computeGradient: false)
        }
    }
}
