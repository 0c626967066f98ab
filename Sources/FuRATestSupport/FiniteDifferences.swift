import FuRATensor

/// Test helpers shared by the test target: random data and finite-difference gradient checks.
public enum TestSupport {
    /// A tensor of normal deviates with a fixed seed (never zeros: tests must be able to fail).
    public static func random(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
        var rng = RNG(seed: seed)
        return Tensor.randomNormal(shape, std: std, rng: &rng)
    }

    /// Central finite-difference derivative of `loss` with respect to each listed element of `x`.
    ///
    /// - Parameters: `indices` are flat indices into `x`; `step` is the perturbation.
    public static func numericGradient(
        of loss: (Tensor) throws -> Double, at x: Tensor, indices: [Int], step: Float = 1e-2
    ) rethrows -> [Double] {
        var result = [Double]()
        for i in indices {
            var plus = x, minus = x
            plus.storage[i] += step
            minus.storage[i] -= step
            let h = Double(plus.storage[i]) - Double(minus.storage[i])
            result.append((try loss(plus) - loss(minus)) / h)
        }
        return result
    }

    /// Central finite differences of `loss` with respect to elements held elsewhere (a model's parameter, changed in
    /// place): each listed element is set to value ± `step` through `write`, then restored exactly.
    public static func numericGradient(
        indices: [Int], step: Float = 1e-2, read: (Int) -> Float, write: (Int, Float) -> Void, loss: () throws -> Double
    ) rethrows -> [Double] {
        var result = [Double]()
        for i in indices {
            let old = read(i)
            write(i, old + step)
            let plus = try loss()
            write(i, old - step)
            let minus = try loss()
            write(i, old)
            result.append((plus - minus) / (Double(old + step) - Double(old - step)))
        }
        return result
    }

    /// max |a − b| / max(1, max |b|) over two equal-length lists.
    public static func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        let scale = max(1e-3, b.map { abs($0) }.max() ?? 0)
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    /// Evenly spread sample indices into a tensor of `count` elements (at most `maximum`).
    public static func sampleIndices(count: Int, maximum: Int = 24) -> [Int] {
        guard count > maximum else { return Array(0..<count) }
        return (0..<maximum).map { $0 * count / maximum + ($0 * 7) % max(1, count / maximum) }
    }
}
