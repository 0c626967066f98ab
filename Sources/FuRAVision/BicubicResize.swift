import FuRATensor

/// Bicubic resampling of a grid of feature rows as PyTorch's `interpolate(mode="bicubic", align_corners=False)` and
/// ONNX's Resize (cubic, half_pixel, a = −0.75): the ViT position grid resized to the image's patch grid.
public enum BicubicResize {
    /// Keys's cubic convolution kernel with parameter `a`.
    static func cubic(_ x: Double, a: Double) -> Double {
        let x = abs(x)
        if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }

    /// The four source indices (clamped to the edge) and weights of each of `outputs` positions along an axis of
    /// `inputs` (half-pixel centres).
    static func taps(inputs: Int, outputs: Int, a: Double = -0.75) -> [(indices: [Int], weights: [Double])] {
        let scale = Double(inputs) / Double(outputs)
        return (0..<outputs).map { o in
            let x = (Double(o) + 0.5) * scale - 0.5
            let x0 = x.rounded(.down), t = x - x0
            let indices = (-1...2).map { min(max(Int(x0) + $0, 0), inputs - 1) }
            let weights = (-1...2).map { cubic(t - Double($0), a: a) }
            return (indices, weights)
        }
    }

    /// Rows of a (from × from) grid, (from², C), → (to², C), row-major (y then x).
    public static func resizeGrid(_ grid: Tensor, from: Int, to: Int) throws -> Tensor {
        let (cells, c) = try grid.dims2()
        guard cells == from * from, to >= 1 else { throw TensorError.invalidArgument(operation: "resizeGrid", message: "\(cells) rows are not a \(from)×\(from) grid") }
        if from == to { return grid }
        let taps = taps(inputs: from, outputs: to)
        // Along x: (from, to, C); then along y: (to, to, C).
        var rows = [Double](repeating: 0, count: from * to * c)
        for y in 0..<from {
            for (ox, tap) in taps.enumerated() {
                for (index, weight) in zip(tap.indices, tap.weights) where weight != 0 {
                    let source = (y * from + index) * c, target = (y * to + ox) * c
                    for j in 0..<c { rows[target + j] += weight * Double(grid.storage[source + j]) }
                }
            }
        }
        var out = Tensor.zeros([to * to, c])
        for (oy, tap) in taps.enumerated() {
            for ox in 0..<to {
                let target = (oy * to + ox) * c
                for (index, weight) in zip(tap.indices, tap.weights) where weight != 0 {
                    let source = (index * to + ox) * c
                    for j in 0..<c { out.storage[target + j] += Float(weight * rows[source + j]) }
                }
            }
        }
        return out
    }
}
