import Foundation
import FuRATensor

// Legend: N tokens, C model dim, F intermediate (feed-forward) dim.

/// The gated MLP: y = down(act(gate(x)) ⊙ up(x)), with gate/up (C → F) and down (F → C) in Linear slots;
/// act is SiLU (Llama's SwiGLU) or tanh-GELU (Gemma's GeGLU), chosen by the model family.
public final class SwiGLU {
    /// The gate's activation.
    public let activation: GatedActivation
    public var gate: any LinearLayer
    public var up: any LinearLayer
    public var down: any LinearLayer
    private var cache: (gate: Tensor, up: Tensor)?

    public init(gate: any LinearLayer, up: any LinearLayer, down: any LinearLayer, activation: GatedActivation = .silu) throws {
        guard gate.inFeatures == up.inFeatures, gate.outFeatures == up.outFeatures,
              down.inFeatures == gate.outFeatures, down.outFeatures == gate.inFeatures else {
            throw LayerError.invalidOption(layer: "SwiGLU", option: "projection shapes",
                                           value: "gate \(gate.outFeatures)×\(gate.inFeatures), up \(up.outFeatures)×\(up.inFeatures), down \(down.outFeatures)×\(down.inFeatures)",
                                           reason: "need gate = up (F, C) and down (C, F)")
        }
        self.gate = gate; self.up = up; self.down = down; self.activation = activation
    }

    /// x (N, C) → y (N, C).
    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let g = try gate.forward(x, keepForBackward: keepForBackward)
        let u = try up.forward(x, keepForBackward: keepForBackward)
        var a = g
        a.withUnsafeMutableBufferPointer { pa in u.withUnsafeBufferPointer { pu in
            let (pa, pu) = (pa.baseAddress!, pu.baseAddress!)
            Threading.parallelFor(g.count, minimumPerChunk: 1 << 14) { start, end in
                self.activation.gated(gate: pa + start, up: pu + start, count: end - start)
            }
        } }
        cache = keepForBackward ? (g, u) : nil
        return try down.forward(a, keepForBackward: keepForBackward)
    }

    /// dY (N, C) → dX (N, C).
    ///
    /// With a = act(g) ⊙ u: dU = dA ⊙ act(g), dG = dA ⊙ u ⊙ act′(g).
    public func backward(_ dY: Tensor) throws -> Tensor {
        guard let c = cache else { throw LayerError.noForwardCache(layer: "SwiGLU") }
        let dA = try down.backward(dY)
        var dG = dA, dU = dA
        c.gate.withUnsafeBufferPointer { pg in c.up.withUnsafeBufferPointer { pu in
        dG.withUnsafeMutableBufferPointer { pdg in dU.withUnsafeMutableBufferPointer { pdu in
            let (pg, pu, pdg, pdu) = (pg.baseAddress!, pu.baseAddress!, pdg.baseAddress!, pdu.baseAddress!)
            Threading.parallelFor(c.gate.count, minimumPerChunk: 1 << 14) { start, end in
                self.activation.gatedBackward(gate: pg + start, up: pu + start, dGate: pdg + start, dUp: pdu + start, count: end - start)
            }
        } } } }
        var dX = try gate.backward(dG)
        try dX.add(try up.backward(dU))
        return dX
    }

    /// Frees what the last forward kept (here and in the three projections).
    public func releaseForwardCache() {
        cache = nil
        gate.releaseForwardCache(); up.releaseForwardCache(); down.releaseForwardCache()
    }
}
