import Foundation
import FuRANN
import FuRATensor
import FuRATestSupport
@testable import FuRAVision
import Testing

/// LLaVA's projectors: outputs against a plain reference, every gradient against finite differences, and the
/// mm_projector.safetensors round trip with LLaVA's names.
@Suite struct ProjectorTests {
    /// Σ y·r for a fixed random r: a scalar loss whose gradient with respect to y is r.
    static func loss(_ projector: Projector, _ x: Tensor, _ r: Tensor) throws -> Double {
        let y = try projector.forward(x, keepForBackward: false)
        return zip(y.storage, r.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    @Test func geluIsTheErfFormAndItsDerivativeMatchesFiniteDifferences() {
        for x: Float in [-3, -1, -0.2, 0, 0.5, 2] {
            let reference = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            #expect(abs(Double(ErfGELU.forward(try! Tensor(shape: [1], data: [x])).storage[0]) - reference) < 1e-6)
            let h: Float = 1e-3
            let numeric = (ErfGELU.forward(try! Tensor(shape: [1], data: [x + h])).storage[0]
                - ErfGELU.forward(try! Tensor(shape: [1], data: [x - h])).storage[0]) / (2 * h)
            #expect(abs(numeric - ErfGELU.derivative(x)) < 2e-3, "x = \(x)")
        }
    }

    @Test(arguments: Projector.Kind.allCases)
    func gradientsMatchFiniteDifferences(kind: Projector.Kind) throws {
        let projector = try Projector(kind: kind, visionWidth: 6, textWidth: 5, seed: 3)
        let x = TestSupport.random([2, 3, 6], seed: 4), r = TestSupport.random([2, 3, 5], seed: 5)
        // Forward against a plain reference.
        let y = try projector.forward(x, keepForBackward: true)
        var expected = x.storage
        var width = 6
        for (i, layer) in projector.layers.enumerated() {
            if i == 1 { expected = expected.map { 0.5 * $0 * (1 + erf($0 / Float(2).squareRoot())) } }
            let w = layer.weight.value.storage, b = layer.bias!.value.storage
            expected = (0..<(expected.count / width)).flatMap { row in
                (0..<layer.outFeatures).map { o in (0..<width).reduce(b[o]) { $0 + w[o * width + $1] * expected[row * width + $1] } }
            }
            width = layer.outFeatures
        }
        #expect(y.shape == [2, 3, 5])
        #expect(zip(y.storage, expected).allSatisfy { abs($0 - $1) < 1e-5 })
        let dX = try projector.backward(r)
        let numericX = try TestSupport.numericGradient(of: { try Self.loss(projector, $0, r) }, at: x, indices: TestSupport.sampleIndices(count: x.count))
        #expect(TestSupport.maxRelativeDifference(TestSupport.sampleIndices(count: x.count).map { Double(dX.storage[$0]) }, numericX) < 2e-2)
        for (name, p) in projector.namedParameters {
            let indices = TestSupport.sampleIndices(count: p.count)
            let numeric = try TestSupport.numericGradient(indices: indices, read: { p.value.storage[$0] }, write: { p.value.storage[$0] = $1 },
                                                          loss: { try Self.loss(projector, x, r) })
            #expect(TestSupport.maxRelativeDifference(indices.map { Double(p.gradient!.storage[$0]) }, numeric) < 2e-2, "\(name)")
        }
    }

    @Test(arguments: Projector.Kind.allCases)
    func savesWithLLaVANamesAndLoadsBack(kind: Projector.Kind) throws {
        let projector = try Projector(kind: kind, visionWidth: 4, textWidth: 3, seed: 1)
        let names = projector.namedParameters.map(\.name)
        #expect(names == (kind == .linear ? ["model.mm_projector.weight", "model.mm_projector.bias"]
            : ["model.mm_projector.0.weight", "model.mm_projector.0.bias", "model.mm_projector.2.weight", "model.mm_projector.2.bias"]))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mm_projector-\(kind.rawValue)-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try projector.save(to: path)
        let loaded = try Projector.load(path: path)
        #expect(loaded.kind == kind)
        let x = TestSupport.random([2, 4], seed: 9)
        #expect(try loaded.forward(x, keepForBackward: false) == projector.forward(x, keepForBackward: false))
    }
}
