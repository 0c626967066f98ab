/// Pillow's bicubic resize of 8-bit images (`Image.resize(size, BICUBIC)`), which LLaVA's image processor calls:
/// separable (rows first, then columns), Keys's kernel with a = −0.5 widened by the scale when shrinking (antialiased),
/// coefficients normalized and rounded to 22-bit fixed point, each pass rounded and clamped to 0…255.
enum PILResample {
    static let precisionBits = 22

    /// Per output position: the first input index and the fixed-point weights of the inputs from there.
    static func coefficients(inputs: Int, outputs: Int) -> [(first: Int, weights: [Int])] {
        let scale = Double(inputs) / Double(outputs)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        return (0..<outputs).map { o in
            let center = (Double(o) + 0.5) * scale
            let first = max(Int(center - support + 0.5), 0)  // truncation toward zero, as C's (int) cast
            let end = min(Int(center + support + 0.5), inputs)
            var weights = (first..<max(end, first)).map { BicubicResize.cubic((Double($0) - center + 0.5) / filterScale, a: -0.5) }
            let total = weights.reduce(0, +)
            if total != 0 { weights = weights.map { $0 / total } }
            let one = Double(1 << precisionBits)
            return (first, weights.map { $0 < 0 ? Int(-0.5 + $0 * one) : Int(0.5 + $0 * one) })
        }
    }

    static func clip8(_ sum: Int) -> UInt8 { UInt8(clamping: max(0, min(255, sum >> precisionBits))) }

    /// `pixels` (height, width, channels) → (newHeight, newWidth, channels).
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, newWidth: Int, newHeight: Int) -> [UInt8] {
        var current = pixels
        var w = width
        if newWidth != width {
            let taps = coefficients(inputs: width, outputs: newWidth)
            var out = [UInt8](repeating: 0, count: height * newWidth * channels)
            for y in 0..<height {
                for (x, tap) in taps.enumerated() {
                    for c in 0..<channels {
                        var sum = 1 << (precisionBits - 1)
                        for (k, weight) in tap.weights.enumerated() { sum += Int(current[(y * w + tap.first + k) * channels + c]) * weight }
                        out[(y * newWidth + x) * channels + c] = clip8(sum)
                    }
                }
            }
            current = out
            w = newWidth
        }
        if newHeight != height {
            let taps = coefficients(inputs: height, outputs: newHeight)
            var out = [UInt8](repeating: 0, count: newHeight * w * channels)
            for (y, tap) in taps.enumerated() {
                for x in 0..<w {
                    for c in 0..<channels {
                        var sum = 1 << (precisionBits - 1)
                        for (k, weight) in tap.weights.enumerated() { sum += Int(current[((tap.first + k) * w + x) * channels + c]) * weight }
                        out[(y * w + x) * channels + c] = clip8(sum)
                    }
                }
            }
            current = out
        }
        return current
    }
}
