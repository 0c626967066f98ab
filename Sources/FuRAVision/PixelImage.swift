/// An 8-bit image: grey, grey + alpha, RGB or RGBA, rows top to bottom, channels interleaved. Decoded from PNG
/// (`init(png:path:)`) or JPEG (`init(jpeg:path:)`), written as PNG (`encoded()`).
public struct PixelImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }
}
