import FuRATensor

/// LLaVA-1.5's image preprocessing: RGB (grey replicated, alpha dropped), `image_aspect_ratio pad` (the image centred
/// on a square of the mean colour), Pillow-bicubic resize of the shortest side to `size`, centre crop to
/// `size × size`, scale to 0…1 and normalize by the tower's mean and standard deviation → (3, size, size).
public struct ImageProcessor: Sendable {
    public var size: Int
    public var mean: [Float]
    public var std: [Float]
    /// `image_aspect_ratio pad` (LLaVA-1.5's setting); false resizes and crops the image as it is.
    public var padToSquare: Bool

    public init(size: Int, mean: [Float], std: [Float], padToSquare: Bool = true) throws {
        guard size >= 1, size <= 4096 else {
            throw VisionTowerError.badOption(option: "--image-size", value: "\(size)", reason: "must be in 1…4096")
        }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
            throw VisionTowerError.badOption(option: "image mean/std", value: "\(mean)/\(std)", reason: "need three values each, std > 0")
        }
        self.size = size; self.mean = mean; self.std = std; self.padToSquare = padToSquare
    }

    /// The processor a tower expects at `size` pixels.
    public init(tower: any VisionTower, size: Int) throws {
        guard size % tower.patchSize == 0 else {
            throw VisionTowerError.badOption(option: "--image-size", value: "\(size)", reason: "must be a multiple of the tower's patch size \(tower.patchSize)")
        }
        try self.init(size: size, mean: tower.imageMean, std: tower.imageStd)
    }

    /// The image's RGB bytes after padding, resizing and cropping (what is normalized): (size, size, 3).
    public func resizedRGB(_ image: PixelImage) throws -> [UInt8] {
        var (rgb, width, height) = (try Self.rgb(image), image.width, image.height)
        // The padded square and the resized image are allocated whole: both within the decoders' pixel limit.
        let side = max(width, height)
        let resized = width <= height ? (size, max(1, size * height / width)) : (max(1, size * width / height), size)
        let largest = padToSquare ? side.multipliedReportingOverflow(by: side) : resized.0.multipliedReportingOverflow(by: resized.1)
        guard !largest.overflow, largest.partialValue <= PixelImage.maxPixels else {
            throw VisionDataError.malformed(path: "image", reason: "\(width)×\(height) pixels: \(padToSquare ? "padding it to a \(side)×\(side) square" : "resizing it to \(resized.0)×\(resized.1)") exceeds the \(PixelImage.maxPixels / (1 << 20)) Mpx limit; crop it to a less elongated shape first")
        }
        if padToSquare && width != height {
            let background = mean.map { UInt8(clamping: Int($0 * 255)) }
            var square = [UInt8](repeating: 0, count: side * side * 3)
            for i in 0..<(side * side) { for c in 0..<3 { square[i * 3 + c] = background[c] } }
            let (left, top) = width > height ? (0, (width - height) / 2) : ((height - width) / 2, 0)
            for y in 0..<height {
                for x in 0..<width { for c in 0..<3 { square[((y + top) * side + x + left) * 3 + c] = rgb[(y * width + x) * 3 + c] } }
            }
            (rgb, width, height) = (square, side, side)
        }
        // Shortest side to `size`, the other as HF's get_resize_output_image_size (truncated).
        let (newWidth, newHeight) = width <= height ? (size, max(1, size * height / width)) : (max(1, size * width / height), size)
        rgb = PILResample.resize(rgb, width: width, height: height, channels: 3, newWidth: newWidth, newHeight: newHeight)
        let (top, left) = ((newHeight - size) / 2, (newWidth - size) / 2)
        var cropped = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size { for c in 0..<3 { cropped[(y * size + x) * 3 + c] = rgb[((y + top) * newWidth + x + left) * 3 + c] } }
        }
        return cropped
    }

    /// Normalized pixels (3, size, size).
    public func pixels(_ image: PixelImage) throws -> Tensor {
        let rgb = try resizedRGB(image)
        var out = Tensor.zeros([3, size, size])
        let plane = size * size
        for i in 0..<plane {
            for c in 0..<3 { out.storage[c * plane + i] = (Float(rgb[i * 3 + c]) / 255 - mean[c]) / std[c] }
        }
        return out
    }

    /// Grey → replicated, grey + alpha → grey, RGBA → RGB (alpha dropped as Pillow's `convert("RGB")`).
    static func rgb(_ image: PixelImage) throws -> [UInt8] {
        let n = image.width * image.height
        guard image.width >= 1, image.height >= 1, image.pixels.count == n * image.channels else {
            throw VisionTowerError.badInput(reason: "image of \(image.width)×\(image.height)×\(image.channels) has \(image.pixels.count) bytes")
        }
        switch image.channels {
        case 3: return image.pixels
        case 1, 2, 4:
            var out = [UInt8](repeating: 0, count: n * 3)
            for i in 0..<n {
                for c in 0..<3 { out[i * 3 + c] = image.pixels[i * image.channels + (image.channels == 4 ? c : 0)] }
            }
            return out
        default: throw VisionTowerError.badInput(reason: "\(image.channels) channels (1–4 are read)")
        }
    }
}
