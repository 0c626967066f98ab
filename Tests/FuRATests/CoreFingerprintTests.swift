import FuRATestSupport
import Testing
@testable import FuRA
@testable import FuRATensor

@Suite struct CoreFingerprintTests {
    /// The SIMD fingerprint against its scalar twin: the same additions in the same order, so exactly equal.
    @Test func fastFingerprintEqualsTheScalarTwin() {
        let sets: [[Tensor]] = [
            [TestSupport.random([37, 5], seed: 1)],
            [TestSupport.random([3, 64, 9], seed: 2), TestSupport.random([1], seed: 3), TestSupport.random([17], seed: 4)],
            [Tensor.zeros([8])], [],
        ]
        for tensors in sets {
            let fast = CoreFingerprint.of(tensors), reference = CoreFingerprint.ofReference(tensors)
            #expect(fast == reference, "\(tensors.map(\.shape))")
            #expect(fast.count == CoreFingerprint.count)
        }
    }

    @Test func fingerprintsSeparateDifferentTensorsAndToleratesRounding() {
        let a = TestSupport.random([40, 12], seed: 8)
        var rounded = a
        for i in 0..<rounded.count { rounded.storage[i] *= 1 + 1e-7 * Float(i % 3) }
        var other = a
        other.storage.swapAt(0, 1)
        let fa = CoreFingerprint.of([a])
        #expect(CoreFingerprint.matches(fa, CoreFingerprint.of([rounded])))
        #expect(!CoreFingerprint.matches(fa, CoreFingerprint.of([other])))
        #expect(!CoreFingerprint.matches(fa, CoreFingerprint.of([TestSupport.random([40, 12], seed: 9)])))
        #expect(!CoreFingerprint.matches(fa, Array(fa.prefix(4))))
    }
}
