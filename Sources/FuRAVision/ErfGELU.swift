import Foundation
import FuRATensor

/// GELU in its exact erf form, `nn.GELU()`: x·Φ(x) = ½x(1 + erf(x/√2)). LLaVA's projector and the ViT towers use it.
public enum ErfGELU {
    /// GELU of every element.
    public static func forward(_ x: Tensor) -> Tensor {
        var y = x
        let invSqrt2 = 1 / Float(2).squareRoot()
        for i in 0..<y.count { y.storage[i] = 0.5 * x.storage[i] * (1 + erf(x.storage[i] * invSqrt2)) }
        return y
    }

    /// GELU′(x) = Φ(x) + x·φ(x).
    public static func derivative(_ x: Float) -> Float {
        0.5 * (1 + erf(x / Float(2).squareRoot())) + x * exp(-0.5 * x * x) / Float(2 * Double.pi).squareRoot()
    }
}
