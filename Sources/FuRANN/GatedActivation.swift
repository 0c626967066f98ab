import Foundation
import FuRATensor

/// The activation a gated MLP applies to its gate: a = act(gate) ⊙ up.
///
/// `silu` is x·σ(x) (Llama, Qwen, Mistral, Phi-3); `geluTanh` is the tanh approximation of GELU,
/// 0.5·x·(1 + tanh(u)) with u = √(2/π)(x + 0.044715x³) (Gemma's `gelu_pytorch_tanh`), written as
/// x·σ(2u) since 1 + tanh(u) = 2σ(2u). Raw values are HF's `hidden_act` names.
public enum GatedActivation: String, Sendable, Codable, CaseIterable {
    case silu
    case geluTanh = "gelu_pytorch_tanh"

    static let geluC: Float = 0.797_884_56  // √(2/π)
    static let geluA: Float = 0.044_715

    /// a[i] ← act(a[i]) · up[i] for i < count (a holds the gate on entry); vectorized.
    public func gated(gate a: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        var i = 0
        switch self {
        case .silu:
            while i + Kernels.width <= count {
                let g = Kernels.load(a + i)
                Kernels.store(g * Kernels.sigmoid(g) * Kernels.load(up + i), a + i)
                i += Kernels.width
            }
        case .geluTanh:
            while i + Kernels.width <= count {
                let g = Kernels.load(a + i)
                let s = Self.geluSigmoid(g)
                Kernels.store(g * s * Kernels.load(up + i), a + i)
                i += Kernels.width
            }
        }
        while i < count { a[i] = value(a[i]) * up[i]; i += 1 }
    }

    /// With dA on entry in both dGate and dUp: dUp ← dA·act(g), dGate ← dA·u·act′(g); vectorized.
    public func gatedBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dGate: UnsafeMutablePointer<Float>,
                              dUp: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        switch self {
        case .silu:
            while i + Kernels.width <= count {
                let g = Kernels.load(gate + i), s = Kernels.sigmoid(g), da = Kernels.load(dGate + i)
                Kernels.store(da * g * s, dUp + i)
                Kernels.store(da * Kernels.load(up + i) * s * (1 + g * (1 - s)), dGate + i)
                i += Kernels.width
            }
        case .geluTanh:
            let twoC = Kernels.Vector(repeating: 2 * Self.geluC), threeA = Kernels.Vector(repeating: 3 * Self.geluA)
            let one = Kernels.Vector(repeating: 1)
            while i + Kernels.width <= count {
                let g = Kernels.load(gate + i), da = Kernels.load(dGate + i)
                let s = Self.geluSigmoid(g)
                Kernels.store(da * g * s, dUp + i)
                let inner: Kernels.Vector = twoC * (one + threeA * g * g)
                let slope: Kernels.Vector = g * s * (one - s) * inner
                Kernels.store(da * Kernels.load(up + i) * (s + slope), dGate + i)
                i += Kernels.width
            }
        }
        while i < count {
            let g = gate[i], da = dGate[i]
            dUp[i] = da * value(g)
            dGate[i] = da * up[i] * derivative(g)
            i += 1
        }
    }

    /// σ(2u), u = √(2/π)(g + 0.044715g³), per lane: tanh-GELU(g) = g·σ(2u).
    @inline(__always)
    static func geluSigmoid(_ g: Kernels.Vector) -> Kernels.Vector {
        let twoC = Kernels.Vector(repeating: 2 * geluC), a = Kernels.Vector(repeating: geluA)
        let cubic: Kernels.Vector = g * g * g
        let u: Kernels.Vector = twoC * (g + a * cubic)
        return Kernels.sigmoid(u)
    }

    /// act(x) for one value (the scalar tail of the kernels).
    public func value(_ x: Float) -> Float {
        switch self {
        case .silu: return x / (1 + exp(-x))
        case .geluTanh: return x / (1 + exp(-2 * Self.geluC * (x + Self.geluA * x * x * x)))
        }
    }

    /// act′(x) for one value.
    public func derivative(_ x: Float) -> Float {
        switch self {
        case .silu:
            let s = 1 / (1 + exp(-x))
            return s * (1 + x * (1 - s))
        case .geluTanh:
            let s = 1 / (1 + exp(-2 * Self.geluC * (x + Self.geluA * x * x * x)))
            return s + x * s * (1 - s) * 2 * Self.geluC * (1 + 3 * Self.geluA * x * x)
        }
    }

    /// Reference twin of `value` in `Double`, written as the textbook formula (tanh, not σ).
    public func reference(_ x: Double) -> Double {
        switch self {
        case .silu: return x / (1 + Foundation.exp(-x))
        case .geluTanh: return 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        }
    }
}
