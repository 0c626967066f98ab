/// A seedable, serializable pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// The whole state is four `UInt64`s, so a checkpoint can store it and a resumed run continues the
/// exact same stream.
public struct RNG: RandomNumberGenerator, Codable, Equatable, Sendable {
    public var state: [UInt64]
    /// A cached second normal deviate from Box–Muller, or nil.
    public var spareNormal: Float?

    /// A generator whose stream is a pure function of `seed`.
    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = [splitMix(), splitMix(), splitMix(), splitMix()]
        spareNormal = nil
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 bits of randomness.
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    /// Standard normal deviate (Box–Muller, caching the second value).
    public mutating func normal() -> Float {
        if let spare = spareNormal { spareNormal = nil; return spare }
        var u1 = 0.0
        repeat { u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) } while u1 <= 0
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let radius = (-2 * log(u1)).squareRoot()
        spareNormal = Float(radius * sin(2 * .pi * u2))
        return Float(radius * cos(2 * .pi * u2))
    }

    /// Uniform integer in 0..<bound (bound > 0).
    public mutating func int(below bound: Int) -> Int { Int(next(upperBound: UInt64(bound))) }
}

extension Tensor {
    /// A tensor of independent normal deviates with the given standard deviation.
    public static func randomNormal(_ shape: [Int], std: Float = 1, rng: inout RNG) -> Tensor {
        var t = Tensor.zeros(shape)
        for i in 0..<t.count { t.storage[i] = rng.normal() * std }
        return t
    }

    /// A tensor of independent uniform deviates in [low, high).
    public static func randomUniform(_ shape: [Int], low: Float, high: Float, rng: inout RNG) -> Tensor {
        var t = Tensor.zeros(shape)
        for i in 0..<t.count { t.storage[i] = rng.uniform(low, high) }
        return t
    }
}

import Foundation
