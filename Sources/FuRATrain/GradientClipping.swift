import Foundation
import FuRANN
import FuRATensor

/// Global-norm gradient clipping as `torch.nn.utils.clip_grad_norm_` (L2, `error_if_nonfinite=False`).
public enum GradientClipping {
    /// The L2 norm of all gradients together: √(Σ over tensors of ‖g‖²), accumulated in `Double`.
    public static func totalNorm(_ parameters: [(name: String, parameter: Parameter)]) -> Double {
        var sum = 0.0
        for (_, parameter) in parameters where parameter.trainable {
            guard let gradient = parameter.gradient else { continue }
            gradient.withUnsafeBufferPointer { g in
                for x in g { sum += Double(x) * Double(x) }
            }
        }
        return sum.squareRoot()
    }

    /// Scales every gradient by `min(1, maxNorm / (norm + 1e-6))` and returns the norm before clipping.
    ///
    /// With `maxNorm` nil nothing is scaled; the norm is still computed and returned (it is reported).
    @discardableResult
    public static func clip(_ parameters: [(name: String, parameter: Parameter)], maxNorm: Double?) -> Double {
        let norm = totalNorm(parameters)
        guard let maxNorm, norm.isFinite else { return norm }
        let coefficient = min(1, maxNorm / (norm + 1e-6))
        guard coefficient < 1 else { return norm }
        let factor = Float(coefficient)
        for (_, parameter) in parameters where parameter.trainable {
            parameter.gradient?.scale(by: factor)
        }
        return norm
    }
}
