import Foundation
import FuRATensor
import FuRATestSupport
import Testing
import FuRANN

@Suite struct SwiGLUTests {
    func make(_ wg: Tensor, _ wu: Tensor, _ wd: Tensor, trainable: Bool = false) throws -> SwiGLU {
        let layers = try [wg, wu, wd].map { try DenseLinear(weight: $0) }
        for l in layers { l.weight.trainable = trainable }
        return try SwiGLU(gate: layers[0], up: layers[1], down: layers[2])
    }

    @Test func forwardAndBackwardMatchReferenceAndFiniteDifferences() throws {
        let (n, c, f) = (3, 4, 6)
        let x = TestSupport.random([n, c], seed: 1), r = TestSupport.random([n, c], seed: 5)
        let wg = TestSupport.random([f, c], seed: 2), wu = TestSupport.random([f, c], seed: 3), wd = TestSupport.random([c, f], seed: 4)
        let mlp = try make(wg, wu, wd, trainable: true)
        let y = try mlp.forward(x, keepForBackward: true)
        var expected = Tensor.zeros([n, c])
        for row in 0..<n { for o in 0..<c {
            var acc = 0.0
            for j in 0..<f {
                var gv = 0.0, uv = 0.0
                for i in 0..<c { gv += Double(wg[j, i] * x[row, i]); uv += Double(wu[j, i] * x[row, i]) }
                acc += Double(wd[o, j]) * gv / (1 + exp(-gv)) * uv
            }
            expected[row, o] = Float(acc)
        } }
        #expect(try y.relativeError(to: expected) < 1e-5)
        let dX = try mlp.backward(r)
        #expect(try gradientGap(analytic: dX, at: x) { probe(try make(wg, wu, wd).forward($0, keepForBackward: false), r) } < 1e-2)
        let grads = [mlp.gate, mlp.up, mlp.down].map { ($0 as! DenseLinear).weight.gradient! }
        #expect(try gradientGap(analytic: grads[0], at: wg) { probe(try make($0, wu, wd).forward(x, keepForBackward: false), r) } < 1e-2)
        #expect(try gradientGap(analytic: grads[1], at: wu) { probe(try make(wg, $0, wd).forward(x, keepForBackward: false), r) } < 1e-2)
        #expect(try gradientGap(analytic: grads[2], at: wd) { probe(try make(wg, wu, $0).forward(x, keepForBackward: false), r) } < 1e-2)
    }

    /// GeGLU (tanh GELU): the vectorized kernels against the Double textbook formula (tanh) and their
    /// derivative against finite differences, over more values than one SIMD width.
    @Test(arguments: GatedActivation.allCases)
    func activationKernelsMatchReference(activation: GatedActivation) throws {
        let n = 37
        let g = TestSupport.random([n], seed: 21, std: 3), u = TestSupport.random([n], seed: 22)
        var a = g.storage, dG = [Float](repeating: 1, count: n), dU = dG
        a.withUnsafeMutableBufferPointer { pa in u.storage.withUnsafeBufferPointer { pu in
            activation.gated(gate: pa.baseAddress!, up: pu.baseAddress!, count: n)
        } }
        g.storage.withUnsafeBufferPointer { pg in u.storage.withUnsafeBufferPointer { pu in
            dG.withUnsafeMutableBufferPointer { pdg in dU.withUnsafeMutableBufferPointer { pdu in
                activation.gatedBackward(gate: pg.baseAddress!, up: pu.baseAddress!, dGate: pdg.baseAddress!, dUp: pdu.baseAddress!, count: n)
            } }
        } }
        for i in 0..<n {
            let x = Double(g.storage[i]), up = Double(u.storage[i])
            let value = activation.reference(x)
            #expect(abs(Double(a[i]) - value * up) < 1e-5 * max(1, abs(value * up)))
            #expect(abs(Double(dU[i]) - value) < 1e-5 * max(1, abs(value)))
            let slope = (activation.reference(x + 1e-4) - activation.reference(x - 1e-4)) / 2e-4
            #expect(abs(Double(dG[i]) - slope * up) < 1e-4 * max(1, abs(slope * up)))
        }
    }

    @Test func rejectsMismatchedProjections() throws {
        #expect(throws: LayerError.self) {
            try make(Tensor.zeros([6, 4]), Tensor.zeros([5, 4]), Tensor.zeros([4, 6]))
        }
    }
}
