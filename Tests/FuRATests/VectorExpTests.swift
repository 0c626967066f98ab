import Foundation
import FuRATensor
import Testing

@Suite struct VectorExpTests {
    /// The 16-lane exp against Foundation's over the whole finite range, and at the edges.
    @Test func matchesScalarExp() {
        var worst: Float = 0
        var v: Float = -87
        while v < 88.5 {
            var x = SIMD16<Float>()
            for i in 0..<16 { x[i] = v + Float(i) * 0.0007 }
            let y = VectorExp.exp(x)
            for i in 0..<16 {
                let e = VectorExp.expReference(x[i])
                worst = max(worst, abs(y[i] - e) / e)
            }
            v += 0.0371
        }
        #expect(worst < 3e-7)
        var edges = SIMD16<Float>(repeating: 0)
        edges[0] = -.infinity; edges[1] = -200; edges[2] = 200; edges[3] = .infinity
        let y = VectorExp.exp(edges)
        #expect(y[0] == 0 && y[1] == 0 && y[2] == .infinity && y[3] == .infinity && y[4] == 1)
    }

    /// Row helpers (lengths with and without a partial last vector) against plain loops.
    @Test(arguments: [1, 16, 37])
    func rowsMatchReference(n: Int) {
        let x = (0..<n).map { Float(sin(Double($0) * 1.3) * 9) }
        var row = x
        let total = row.withUnsafeMutableBufferPointer { VectorExp.expShifted($0.baseAddress!, n, shift: 2) }
        let expected = x.map { exp($0 - 2) }
        #expect(zip(row, expected).allSatisfy { abs($0 - $1) <= 3e-7 * $1 })
        #expect(abs(total - expected.reduce(0, +)) <= 1e-5 * total)
        let m = x.max()!
        let lse = m + log(x.map { exp($0 - m) }.reduce(0, +))
        #expect(abs(x.withUnsafeBufferPointer { VectorExp.logSumExp($0.baseAddress!, n) } - lse) <= 1e-5)
        var soft = x
        soft.withUnsafeMutableBufferPointer { VectorExp.softmax($0.baseAddress!, n) }
        #expect(zip(soft, x).allSatisfy { abs($0 - exp($1 - lse)) <= 1e-6 })
    }
}
