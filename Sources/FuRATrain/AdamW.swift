import FuRANN
import FuRATensor

/// AdamW exactly as `torch.optim.AdamW` (single-tensor path): decoupled weight decay, bias correction,
/// `eps` added to √v̂.
///
/// Per parameter, with g its gradient and step count k (1-based):
/// ```
/// p ← p·(1 − lr·wd)
/// m ← m + (1 − β₁)(g − m)          (torch's lerp)
/// v ← β₂·v + (1 − β₂)·g²
/// p ← p − (lr / (1 − β₁ᵏ)) · m / (√v / √(1 − β₂ᵏ) + eps)
/// ```
/// Moments are `Float`, like the parameters; the scalar factors are computed in `Double` and rounded
/// once, as torch does with Python floats.
public struct AdamW: Sendable {
    /// The hyperparameters.
    public struct Options: Codable, Equatable, Sendable {
        public var beta1: Double
        public var beta2: Double
        public var eps: Double
        public var weightDecay: Double

        public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }

        enum CodingKeys: String, CodingKey {
            case beta1, beta2, eps, weightDecay = "weight_decay"
        }
    }

    /// The state of one parameter: first and second moments, same element count as the parameter.
    public struct Moments: Codable, Equatable, Sendable {
        public var exponentialAverage: [Float]
        public var exponentialAverageSquared: [Float]
    }

    public var options: Options
    /// Optimizer steps taken so far (torch keeps it per parameter; all trainable tensors step together here).
    public var stepCount: Int
    /// Moments by parameter name.
    public var moments: [String: Moments]

    public init(options: Options) {
        self.options = options
        stepCount = 0
        moments = [:]
    }

    /// One update of every parameter in `parameters` that trains and has a gradient, at learning rate `lr`.
    public mutating func step(_ parameters: [(name: String, parameter: Parameter)], learningRate lr: Double) throws {
        stepCount += 1
        let k = Double(stepCount)
        let decay = Float(1 - lr * options.weightDecay)
        let oneMinusBeta1 = Float(1 - options.beta1)
        let beta2 = Float(options.beta2)
        let oneMinusBeta2 = Float(1 - options.beta2)
        let biasCorrection1 = 1 - pow(options.beta1, k)
        let biasCorrection2Sqrt = (1 - pow(options.beta2, k)).squareRoot()
        let stepSize = Float(lr / biasCorrection1)
        let correction2 = Float(biasCorrection2Sqrt)
        let eps = Float(options.eps)
        let applyDecay = options.weightDecay != 0
        for (name, parameter) in parameters where parameter.trainable {
            guard let gradient = parameter.gradient else { continue }
            try parameter.value.requireSameShape(gradient, "AdamW \(name)")
            var state = moments[name] ?? Moments(
                exponentialAverage: [Float](repeating: 0, count: parameter.count),
                exponentialAverageSquared: [Float](repeating: 0, count: parameter.count))
            guard state.exponentialAverage.count == parameter.count else {
                throw TrainingError.optimizerStateMismatch(parameter: name, expected: parameter.count,
                                                           actual: state.exponentialAverage.count)
            }
            // SAFETY: the value, gradient and both moments have `parameter.count` elements (checked above).
            gradient.withUnsafeBufferPointer { g in
                state.exponentialAverage.withUnsafeMutableBufferPointer { m in
                    state.exponentialAverageSquared.withUnsafeMutableBufferPointer { v in
                        parameter.value.withUnsafeMutableBufferPointer { p in
                            for i in 0..<p.count {
                                if applyDecay { p[i] *= decay }
                                let gi = g[i]
                                m[i] = Self.lerp(m[i], gi, oneMinusBeta1)
                                v[i] = v[i] * beta2 + oneMinusBeta2 * (gi * gi)
                                let denom = v[i].squareRoot() / correction2 + eps
                                p[i] = p[i] + (-stepSize) * (m[i] / denom)
                            }
                        }
                    }
                }
            }
            moments[name] = state
        }
    }

    /// torch's `lerp(start, end, weight)`: exact at both ends (the formula switches at weight 0.5).
    @inline(__always) static func lerp(_ start: Float, _ end: Float, _ weight: Float) -> Float {
        weight < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
    }
}

/// What an AdamW state looks like on disk (moments travel in the checkpoint's tensor file).
public struct AdamWHeader: Codable, Equatable, Sendable {
    public var options: AdamW.Options
    public var stepCount: Int
    enum CodingKeys: String, CodingKey { case options, stepCount = "step_count" }
}

import Foundation
