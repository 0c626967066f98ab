import Foundation
import FuRATensor

// Legend: N tokens, C model dim, F intermediate (feed-forward) dim.

/// The Llama MLP: y = down(silu(gate(x)) ⊙ up(x)), with gate/up (C → F) and down (F → C) in Linear slots.
public final class SwiGLU {
    public var gate: any LinearLayer
    public var up: any LinearLayer
    public var down: any LinearLayer
    private var cache: (gate: Tensor, up: Tensor)?

    public init(gate: any LinearLayer, up: any LinearLayer, down: any LinearLayer) throws {
        guard gate.inFeatures == up.inFeatures, gate.outFeatures == up.outFeatures,
              down.inFeatures == gate.outFeatures, down.outFeatures == gate.inFeatures else {
            throw LayerError.invalidOption(layer: "SwiGLU", option: "projection shapes",
                                           value: "gate \(gate.outFeatures)×\(gate.inFeatures), up \(up.outFeatures)×\(up.inFeatures), down \(down.outFeatures)×\(down.inFeatures)",
                                           reason: "need gate = up (F, C) and down (C, F)")
        }
        self.gate = gate; self.up = up; self.down = down
    }

    /// x (N, C) → y (N, C).
    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let g = try gate.forward(x, keepForBackward: keepForBackward)
        let u = try up.forward(x, keepForBackward: keepForBackward)
        var a = g
        a.withUnsafeMutableBufferPointer { pa in u.withUnsafeBufferPointer { pu in
            let (pa, pu) = (pa.baseAddress!, pu.baseAddress!)
            Threading.parallelFor(g.count, minimumPerChunk: 1 << 14) { start, end in
                Self.gatedSiLU(gate: pa + start, up: pu + start, count: end - start)
            }
        } }
        cache = keepForBackward ? (g, u) : nil
        return try down.forward(a, keepForBackward: keepForBackward)
    }

    /// dY (N, C) → dX (N, C).
    ///
    /// With a = silu(g) ⊙ u: dU = dA ⊙ silu(g), dG = dA ⊙ u ⊙ σ(g)(1 + g(1 − σ(g))).
    public func backward(_ dY: Tensor) throws -> Tensor {
        guard let c = cache else { throw LayerError.noForwardCache(layer: "SwiGLU") }
        let dA = try down.backward(dY)
        var dG = dA, dU = dA
        c.gate.withUnsafeBufferPointer { pg in c.up.withUnsafeBufferPointer { pu in
        dG.withUnsafeMutableBufferPointer { pdg in dU.withUnsafeMutableBufferPointer { pdu in
            let (pg, pu, pdg, pdu) = (pg.baseAddress!, pu.baseAddress!, pdg.baseAddress!, pdu.baseAddress!)
            Threading.parallelFor(c.gate.count, minimumPerChunk: 1 << 14) { start, end in
                Self.gatedSiLUBackward(gate: pg + start, up: pu + start, dGate: pdg + start, dUp: pdu + start, count: end - start)
            }
        } } } }
        var dX = try gate.backward(dG)
        try dX.add(try up.backward(dU))
        return dX
    }

    /// a[i] ← silu(a[i]) · up[i] for i < count (a holds the gate on entry).
    static func gatedSiLU(gate a: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + Kernels.width <= count {
            let g = Kernels.load(a + i)
            Kernels.store(g * Kernels.sigmoid(g) * Kernels.load(up + i), a + i)
            i += Kernels.width
        }
        while i < count { let g = a[i]; a[i] = g / (1 + exp(-g)) * up[i]; i += 1 }
    }

    /// With dA on entry in both dGate and dUp: dUp ← dA·silu(g), dGate ← dA·u·σ(g)(1 + g(1 − σ(g))).
    static func gatedSiLUBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dGate: UnsafeMutablePointer<Float>,
                                  dUp: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + Kernels.width <= count {
            let g = Kernels.load(gate + i), s = Kernels.sigmoid(g), da = Kernels.load(dGate + i)
            Kernels.store(da * g * s, dUp + i)
            Kernels.store(da * Kernels.load(up + i) * s * (1 + g * (1 - s)), dGate + i)
            i += Kernels.width
        }
        while i < count {
            let g = gate[i], s = 1 / (1 + exp(-g)), da = dGate[i]
            dUp[i] = da * g * s
            dGate[i] = da * up[i] * s * (1 + g * (1 - s))
            i += 1
        }
    }

    /// Frees what the last forward kept (here and in the three projections).
    public func releaseForwardCache() {
        cache = nil
        gate.releaseForwardCache(); up.releaseForwardCache(); down.releaseForwardCache()
    }
}
