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

    /// At bf16 the MLP keeps gate and up as bf16 bits: the forward is unchanged bit for bit and the backward equals
    /// the f32 backward to bf16's rounding.
    @Test func bf16KeptActivationsGiveTheSameForwardAndANearBackward() throws {
        let (n, c, f) = (5, 8, 24)
        let x = TestSupport.random([n, c], seed: 11), r = TestSupport.random([n, c], seed: 15)
        let wg = TestSupport.random([f, c], seed: 12), wu = TestSupport.random([f, c], seed: 13), wd = TestSupport.random([c, f], seed: 14)
        let exact = try make(wg, wu, wd, trainable: true), half = try make(wg, wu, wd, trainable: true)
        half.keepsBFloat16 = true
        let (y32, y16) = (try exact.forward(x, keepForBackward: true), try half.forward(x, keepForBackward: true))
        #expect(y32.storage == y16.storage)
        let (d32, d16) = (try exact.backward(r), try half.backward(r))
        let gap = try d16.relativeError(to: d32)
        #expect(gap > 0 && gap < 1e-2)
        let (g32, g16) = ((exact.gate as! DenseLinear).weight.gradient!, (half.gate as! DenseLinear).weight.gradient!)
        #expect(try g16.relativeError(to: g32) < 1e-2)
    }

    /// The threaded bf16 conversions equal the scalar ones, across chunk boundaries and an odd count.
    @Test func bf16ConversionsMatchTheScalarRounding() {
        Threading.setThreadCount(2)
        defer { Threading.setThreadCount(1) }
        var rng = RNG(seed: 3)
        let values = (0..<200_001).map { i in i % 97 == 0 ? Float(i) * 1e-30 : rng.normal() * 37 }
        var bits = [UInt16](repeating: 0, count: values.count), back = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in bits.withUnsafeMutableBufferPointer { b in
            HalfPrecision.bfloat16Bits(v.baseAddress!, count: values.count, into: b.baseAddress!)
        } }
        #expect(bits == values.map(HalfPrecision.bfloat16Bits(from:)))
        bits.withUnsafeBufferPointer { b in back.withUnsafeMutableBufferPointer { o in
            HalfPrecision.floats(fromBFloat16Bits: b.baseAddress!, count: bits.count, into: o.baseAddress!)
        } }
        #expect(back == bits.map(HalfPrecision.float(fromBFloat16Bits:)))
    }

    @Test func rejectsMismatchedProjections() throws {
        #expect(throws: LayerError.self) {
            try make(Tensor.zeros([6, 4]), Tensor.zeros([5, 4]), Tensor.zeros([4, 6]))
        }
    }
}
