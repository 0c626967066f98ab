import CJPEG
import Foundation
import FuRAFormats

extension PixelImage {
    /// The most pixels a decoded image may have (64 Mpx).
    public static let maxPixels = 1 << 26

    /// Decodes a JPEG (baseline or progressive, grey or colour) through Debian's libjpeg-turbo, as Pillow does:
    /// grey stays one channel, everything else becomes RGB.
    public init(jpeg data: [UInt8], path: String) throws {
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: 200)
        let status = data.withUnsafeBufferPointer { buffer in
            fura_jpeg_decode(buffer.baseAddress, UInt(buffer.count), Int(Self.maxPixels), &pixels, &width, &height, &channels,
                             &message, Int32(message.count))
        }
        guard status == 0, let pixels else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw VisionDataError.malformed(path: path, reason: "not a JPEG fura reads: \(ErrorText.oneLine(reason))")
        }
        defer { fura_jpeg_free(pixels) }
        let count = Int(width) * Int(height) * Int(channels)
        self.init(width: Int(width), height: Int(height), channels: Int(channels), pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }
}
