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
    /// `learningRateFactors`: parameters whose name starts with a prefix step at `lr` times its factor (an optimizer
    /// group with its own learning rate, e.g. LLaVA's `mm_projector_lr`); the first matching prefix wins.
    public mutating func step(_ parameters: [(name: String, parameter: Parameter)], learningRate baseLearningRate: Double,
                              learningRateFactors: [LearningRateFactor] = []) throws {
        stepCount += 1
        let k = Double(stepCount)
        let oneMinusBeta1 = Float(1 - options.beta1)
        let beta2 = Float(options.beta2)
        let oneMinusBeta2 = Float(1 - options.beta2)
        let biasCorrection1 = 1 - pow(options.beta1, k)
        let biasCorrection2Sqrt = (1 - pow(options.beta2, k)).squareRoot()
        let correction2 = Float(biasCorrection2Sqrt)
        let eps = Float(options.eps)
        let applyDecay = options.weightDecay != 0
        for (name, parameter) in parameters where parameter.trainable {
            let lr = baseLearningRate * (learningRateFactors.first { name.hasPrefix($0.prefix) }?.factor ?? 1)
            let decay = Float(1 - lr * options.weightDecay)
            let stepSize = Float(lr / biasCorrection1)
            guard let gradient = parameter.gradient else { continue }
            try parameter.value.requireSameShape(gradient, "AdamW \(name)")
            // Taken out of the dictionary so the arrays are uniquely referenced and updated in place.
            var state = moments.removeValue(forKey: name) ?? Moments(
                exponentialAverage: [Float](repeating: 0, count: parameter.count),
                exponentialAverageSquared: [Float](repeating: 0, count: parameter.count))
            guard state.exponentialAverage.count == parameter.count, state.exponentialAverageSquared.count == parameter.count else {
                throw TrainingError.optimizerStateMismatch(parameter: name, expected: parameter.count,
                                                           actual: state.exponentialAverage.count)
            }
            let constants = Constants(decay: applyDecay ? decay : 1, oneMinusBeta1: oneMinusBeta1, beta2: beta2,
                                      oneMinusBeta2: oneMinusBeta2, correction2: correction2, eps: eps, stepSize: stepSize)
            // SAFETY: the value, gradient and both moments have `parameter.count` elements (checked above).
            gradient.withUnsafeBufferPointer { g in
                state.exponentialAverage.withUnsafeMutableBufferPointer { m in
                    state.exponentialAverageSquared.withUnsafeMutableBufferPointer { v in
                        parameter.value.withUnsafeMutableBufferPointer { p in
                            // Element-wise, so ranges side by side give the same bits as one pass (vector and scalar
                            // forms round alike); ranges of 16-multiples keep the vector loop whole.
                            let (pb, gb, mb, vb, count) = (p.baseAddress!, g.baseAddress!, m.baseAddress!, v.baseAddress!, p.count)
                            Threading.parallelFor((count + 15) / 16, minimumPerChunk: 1 << 12) { first, end in
                                let lo = 16 * first, hi = min(count, 16 * end)
                                Self.update(pb + lo, gb + lo, mb + lo, vb + lo, count: hi - lo, constants)
                            }
                        }
                    }
                }
            }
            moments[name] = state
        }
    }

    /// The scalar factors of one step, rounded to `Float` once.
    struct Constants {
        var decay, oneMinusBeta1, beta2, oneMinusBeta2, correction2, eps, stepSize: Float
    }

    /// The element-wise update over `count` elements (p, g, m, v of one parameter).
    @inline(never)
    static func update(_ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                       _ v: UnsafeMutablePointer<Float>, count: Int, _ c: Constants) {
        // lerp's branch is decided once (torch switches form at weight 0.5); each loop vectorizes.
        if c.oneMinusBeta1 < 0.5 {
            // 16 lanes at a time: the same correctly rounded operations as the scalar loop, so the same bits.
            typealias V = SIMD16<Float>
            let vectorEnd = count - count % 16
            var i = 0
            while i < vectorEnd {
                let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
                let m0 = UnsafeRawPointer(m + i).loadUnaligned(as: V.self)
                let v0 = UnsafeRawPointer(v + i).loadUnaligned(as: V.self)
                let p0 = UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
                let mi = m0 + c.oneMinusBeta1 * (gi - m0)
                let vi = v0 * c.beta2 + c.oneMinusBeta2 * (gi * gi)
                let pi = p0 * c.decay + (-c.stepSize) * mi / (vi.squareRoot() / c.correction2 + c.eps)
                UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
                UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
                UnsafeMutableRawPointer(p + i).storeBytes(of: pi, as: V.self)
                i += 16
            }
            for i in vectorEnd..<count {
                let gi = g[i]
                let mi = m[i] + c.oneMinusBeta1 * (gi - m[i])
                let vi = v[i] * c.beta2 + c.oneMinusBeta2 * (gi * gi)
                m[i] = mi
                v[i] = vi
                // torch's addcdiv: self + (value · t1) / t2.
                p[i] = p[i] * c.decay + (-c.stepSize) * mi / (vi.squareRoot() / c.correction2 + c.eps)
            }
        } else {
            for i in 0..<count {
                let gi = g[i]
                let mi = gi - (gi - m[i]) * (1 - c.oneMinusBeta1)
                let vi = v[i] * c.beta2 + c.oneMinusBeta2 * (gi * gi)
                m[i] = mi
                v[i] = vi
                p[i] = p[i] * c.decay + (-c.stepSize) * mi / (vi.squareRoot() / c.correction2 + c.eps)
            }
        }
    }

    /// torch's `lerp(start, end, weight)`: exact at both ends (the formula switches at weight 0.5).
    @inline(__always) static func lerp(_ start: Float, _ end: Float, _ weight: Float) -> Float {
        weight < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
    }
}

/// A learning-rate multiplier for the parameters whose names start with `prefix`.
public struct LearningRateFactor: Codable, Equatable, Sendable {
    public var prefix: String
    public var factor: Double
    public init(prefix: String, factor: Double) { self.prefix = prefix; self.factor = factor }
}

/// What an AdamW state looks like on disk (moments travel in the checkpoint's tensor file).
public struct AdamWHeader: Codable, Equatable, Sendable {
    public var options: AdamW.Options
    public var stepCount: Int
    enum CodingKeys: String, CodingKey { case options, stepCount = "step_count" }
}

import Foundation
