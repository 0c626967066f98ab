import FuRATensor
import FuRATestSupport

/// Σ y ⊙ r in Double: a scalar probe whose gradient with respect to y is r.
func probe(_ y: Tensor, _ r: Tensor) -> Double {
    var acc = 0.0
    for i in 0..<y.count { acc += Double(y.storage[i]) * Double(r.storage[i]) }
    return acc
}

/// Analytic gradient entries at `indices` vs central finite differences; returns the max relative gap.
func gradientGap(analytic: Tensor, at x: Tensor, maximum: Int = 24, step: Float = 1e-2,
                 loss: (Tensor) throws -> Double) rethrows -> Double {
    let indices = TestSupport.sampleIndices(count: x.count, maximum: maximum)
    let numeric = try TestSupport.numericGradient(of: loss, at: x, indices: indices, step: step)
    return TestSupport.maxRelativeDifference(indices.map { Double(analytic.storage[$0]) }, numeric)
}
