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
    /// Whether the forward keeps gate and up rounded to bf16 for the backward (half the memory of the MLP's two
    /// widest activations), as bf16 autocast keeps its bf16 matmul outputs; the model sets it at
    /// `ComputePrecision.bf16`. The forward itself, and everything at f32, use the f32 values.
    public var keepsBFloat16 = false
    private var cache: Kept?

    /// What the forward keeps: g and u (N, F), in f32 or as bf16 bits.
    private enum Kept {
        case f32(gate: Tensor, up: Tensor)
        case bf16(gate: [UInt16], up: [UInt16], shape: [Int])

        init(gate: Tensor, up: Tensor, bf16: Bool) {
            guard bf16 else { self = .f32(gate: gate, up: up); return }
            self = .bf16(gate: Self.rounded(gate), up: Self.rounded(up), shape: gate.shape)
        }

        /// g and u in f32 (widened from bf16 when kept so).
        var tensors: (gate: Tensor, up: Tensor) {
            switch self {
            case let .f32(gate, up): return (gate, up)
            case let .bf16(gate, up, shape): return (Self.widened(gate, shape), Self.widened(up, shape))
            }
        }

        static func rounded(_ t: Tensor) -> [UInt16] {
            var bits = [UInt16](repeating: 0, count: max(1, t.count))
            t.withUnsafeBufferPointer { src in bits.withUnsafeMutableBufferPointer { dst in
                HalfPrecision.bfloat16Bits(src.baseAddress!, count: t.count, into: dst.baseAddress!)
            } }
            return bits
        }

        static func widened(_ bits: [UInt16], _ shape: [Int]) -> Tensor {
            var t = Tensor.zeros(shape)
            let n = t.count
            t.withUnsafeMutableBufferPointer { dst in bits.withUnsafeBufferPointer { src in
                HalfPrecision.floats(fromBFloat16Bits: src.baseAddress!, count: n, into: dst.baseAddress!)
            } }
            return t
        }
    }

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
        cache = keepForBackward ? Kept(gate: g, up: u, bf16: keepsBFloat16) : nil
        return try down.forward(a, keepForBackward: keepForBackward)
    }

    /// dY (N, C) → dX (N, C).
    ///
    /// With a = act(g) ⊙ u: dU = dA ⊙ act(g), dG = dA ⊙ u ⊙ act′(g).
    public func backward(_ dY: Tensor) throws -> Tensor {
        guard let kept = cache else { throw LayerError.noForwardCache(layer: "SwiGLU") }
        let c = kept.tensors
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
