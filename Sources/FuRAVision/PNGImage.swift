import CZlib
import Foundation
import FuRAFormats

/// PNG encoding and decoding of a `PixelImage` (own chunk and filter code over Debian's zlib).
extension PixelImage {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    static let colorTypes: [Int: UInt8] = [1: 0, 3: 2, 4: 6]
    static let maximumSide = 1 << 14

    /// The PNG file: IHDR, one IDAT (each row with filter 0, deflated), IEND.
    public func encoded() throws -> [UInt8] {
        guard let colorType = Self.colorTypes[channels], width > 0, height > 0, pixels.count == width * height * channels else {
            throw VisionDataError.malformed(path: "image", reason: "\(width)×\(height)×\(channels) does not describe \(pixels.count) bytes of a grey, RGB or RGBA image")
        }
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + width * channels))
        for row in 0..<height {
            raw.append(0)
            raw.append(contentsOf: pixels[(row * width * channels)..<((row + 1) * width * channels)])
        }
        var compressedSize = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        guard compress2(&compressed, &compressedSize, raw, uLong(raw.count), Z_BEST_COMPRESSION) == Z_OK else {
            throw VisionDataError.malformed(path: "image", reason: "zlib could not compress the image")
        }
        var out = Self.signature
        var header = [UInt8]()
        Self.appendBigEndian(UInt32(width), to: &header)
        Self.appendBigEndian(UInt32(height), to: &header)
        header += [8, colorType, 0, 0, 0]
        Self.appendChunk("IHDR", header, to: &out)
        Self.appendChunk("IDAT", Array(compressed[0..<Int(compressedSize)]), to: &out)
        Self.appendChunk("IEND", [], to: &out)
        return out
    }

    /// Reads an 8-bit, non-interlaced grey, RGB or RGBA PNG (all five row filters); sizes are checked before use.
    public init(png data: [UInt8], path: String) throws {
        func fail(_ reason: String) -> VisionDataError { .malformed(path: path, reason: "not a PNG fura reads: \(reason)") }
        guard data.starts(with: Self.signature) else { throw fail("bad signature") }
        var offset = 8, idat = [UInt8](), header: [UInt8]?
        while offset + 12 <= data.count {
            let length = Int(Self.readBigEndian(data, offset))
            guard length <= data.count - offset - 12 else { throw fail("a chunk runs past the end of the file") }
            let type = String(decoding: data[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = Array(data[(offset + 8)..<(offset + 8 + length)])
            guard Self.crc(type, body) == Self.readBigEndian(data, offset + 8 + length) else { throw fail("chunk \(ErrorText.shortened(type.debugDescription)) has a bad CRC") }
            if type == "IHDR" { header = body } else if type == "IDAT" { idat += body } else if type == "IEND" { break }
            offset += 12 + length
        }
        guard let h = header, h.count == 13 else { throw fail("no IHDR") }
        let width = Int(Self.readBigEndian(h, 0)), height = Int(Self.readBigEndian(h, 4))
        guard (1...Self.maximumSide).contains(width), (1...Self.maximumSide).contains(height) else { throw fail("size \(width)×\(height) (at most \(Self.maximumSide) a side)") }
        guard h[8] == 8, h[12] == 0, let channels = Self.colorTypes.first(where: { $0.value == h[9] })?.key else {
            throw fail("bit depth \(h[8]), colour type \(h[9]), interlace \(h[12]) (8-bit grey, RGB or RGBA, not interlaced)")
        }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        var rawSize = uLong(raw.count)
        guard uncompress(&raw, &rawSize, idat, uLong(idat.count)) == Z_OK, Int(rawSize) == raw.count else { throw fail("the image data does not inflate to \(height) rows") }
        var pixels = [UInt8](repeating: 0, count: height * stride)
        for row in 0..<height {
            let filter = raw[row * (stride + 1)]
            for i in 0..<stride {
                let x = raw[row * (stride + 1) + 1 + i]
                let a = i >= channels ? Int(pixels[row * stride + i - channels]) : 0
                let b = row > 0 ? Int(pixels[(row - 1) * stride + i]) : 0
                let c = row > 0 && i >= channels ? Int(pixels[(row - 1) * stride + i - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: throw fail("row \(row) has filter \(filter)")
                }
                pixels[row * stride + i] = UInt8(truncatingIfNeeded: Int(x) + predictor)
            }
        }
        self.init(width: width, height: height, channels: channels, pixels: pixels)
    }

    static func crc(_ type: String, _ body: [UInt8]) -> UInt32 {
        let typed = Array(type.utf8) + body
        return UInt32(crc32(0, typed, uInt(typed.count)))
    }

    static func appendChunk(_ type: String, _ body: [UInt8], to out: inout [UInt8]) {
        appendBigEndian(UInt32(body.count), to: &out)
        out += Array(type.utf8) + body
        appendBigEndian(crc(type, body), to: &out)
    }

    static func appendBigEndian(_ v: UInt32, to out: inout [UInt8]) { out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func readBigEndian(_ d: [UInt8], _ o: Int) -> UInt32 {
        UInt32(d[o]) << 24 | UInt32(d[o + 1]) << 16 | UInt32(d[o + 2]) << 8 | UInt32(d[o + 3])
    }
}
