import FuRANN
import FuRATestSupport
import Testing
@testable import FuRA
@testable import FuRATensor

@Suite struct SVDLayerTests {
    @Test func conversionIsLosslessForEveryPositionAndMerge() throws {
        var seed: UInt64 = 1
        for (o, i) in [(12, 18), (18, 12), (7, 13), (16, 16)] {
            for position in SVDTrainPosition.allCases {
                for merge in [nil] + SMergedTo.allCases.map({ Optional($0) }) {
                    seed += 3
                    let w = TestSupport.random([o, i], seed: seed), bias = TestSupport.random([o], seed: seed + 1)
                    let layer = try SVDLayer(converting: w, bias: bias, trainPosition: position, sMergedTo: merge)
                    let label = "\(o)x\(i) \(position) \(String(describing: merge))"
                    #expect(try layer.denseWeight().relativeError(to: w) < 1e-5, "\(label)")
                    let x = TestSupport.random([5, i], seed: seed + 2)
                    var expected = try Tensor.matmul(x, w, transposeB: true)
                    try expected.addRowVector(bias)
                    #expect(try layer.forward(x, keepForBackward: false).relativeError(to: expected) < 1e-5, "\(label)")
                    #expect(layer.outputFactor.value.shape == [o, min(o, i)] && layer.inputFactor.value.shape == [min(o, i), i])
                }
            }
        }
    }

    @Test func mergeRulesAndTrainabilityFollowSpec2() throws {
        #expect(SVDLayer.mergeTarget(nil, trainPosition: .output) == .input)
        #expect(SVDLayer.mergeTarget(nil, trainPosition: .both) == .split)
        #expect(SVDLayer.mergeTarget(.trainable, trainPosition: .output) == .output)
        #expect(SVDLayer.mergeTarget(.trainable, trainPosition: .input) == .input)
        #expect(SVDLayer.mergeTarget(.trainable, trainPosition: .both) == .split)
        #expect(SVDLayer.mergeTarget(.frozen, trainPosition: .output) == .input)
        #expect(SVDLayer.mergeTarget(.frozen, trainPosition: .input) == .output)
        let w = TestSupport.random([10, 6], seed: 9)
        // Baseline recipe: output trains, S frozen into svd_b ⇒ svd_a = U has orthonormal columns.
        let recipe = try SVDLayer(converting: w, bias: nil)
        #expect(recipe.outputFactor.trainable && !recipe.inputFactor.trainable && recipe.singular == nil)
        let gram = try Tensor.matmul(recipe.outputFactor.value, recipe.outputFactor.value, transposeA: true)
        for r in 0..<6 { for c in 0..<6 { #expect(abs(gram[r, c] - (r == c ? 1 : 0)) < 1e-5) } }
        let kept = try SVDLayer(converting: w, bias: nil, trainPosition: .input, sMergedTo: .keepTrainable)
        #expect(!kept.outputFactor.trainable && kept.inputFactor.trainable && kept.singular!.trainable)
        let svd = try LAPACK.svd(w)
        #expect(try kept.singular!.value.relativeError(to: svd.s) < 1e-6)
    }

    @Test func factoredForwardMatchesMaterializingReferenceAndBackwardMatchesFiniteDifferences() throws {
        var seed: UInt64 = 100
        for (position, merge) in [(SVDTrainPosition.output, SMergedTo.frozen), (.input, .keepTrainable), (.both, .keepTrainable), (.both, .split)] {
            seed += 10
            let (o, i) = (9, 14)
            let layer = try SVDLayer(converting: TestSupport.random([o, i], seed: seed), bias: TestSupport.random([o], seed: seed + 1),
                                     trainPosition: position, sMergedTo: merge)
            if let s = layer.singular { s.value = TestSupport.random(s.value.shape, seed: seed + 2) }
            let x = TestSupport.random([4, i], seed: seed + 3), c = TestSupport.random([4, o], seed: seed + 4)
            let y = try layer.forward(x, keepForBackward: true)
            let ref = try SVDReference.forward(x, a: layer.outputFactor.value, b: layer.inputFactor.value, s: layer.singular?.value,
                                               bias: layer.bias?.value)
            #expect(try y.relativeError(to: ref) < 1e-5)
            let dX = try layer.backward(c)
            let idx = TestSupport.sampleIndices(count: x.count)
            let numX = try TestSupport.numericGradient(of: { bttLoss(try layer.forward($0, keepForBackward: false), c) }, at: x, indices: idx)
            #expect(TestSupport.maxRelativeDifference(idx.map { Double(dX.storage[$0]) }, numX) < 2e-3)
            for (name, p) in layer.parameters where p.trainable {
                let original = p.value
                let pIdx = TestSupport.sampleIndices(count: p.count)
                let num = try TestSupport.numericGradient(of: { v in
                    p.value = v
                    defer { p.value = original }
                    return bttLoss(try layer.forward(x, keepForBackward: false), c)
                }, at: original, indices: pIdx)
                #expect(TestSupport.maxRelativeDifference(pIdx.map { Double(p.gradient!.storage[$0]) }, num) < 2e-3, "\(name) \(position) \(merge)")
            }
        }
    }

    @Test func badInputGivesTypedErrors() throws {
        var w = TestSupport.random([4, 5], seed: 1)
        w.storage[0] = .nan
        #expect(throws: ConversionError.nonFiniteWeight(module: "m", count: 1)) { try SVDLayer(converting: w, bias: nil, module: "m") }
        #expect(throws: ConversionError.self) { try SVDLayer(a: Tensor.zeros([4, 3]), b: Tensor.zeros([2, 5]), s: nil, bias: nil) }
        let layer = try SVDLayer(converting: TestSupport.random([4, 5], seed: 2), bias: nil)
        #expect(throws: LayerError.self) { try layer.backward(Tensor.zeros([1, 4])) }
    }
}
