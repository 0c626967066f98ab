import Foundation

/// Reads an image file by its signature: PNG or JPEG (others are refused by name).
public enum ImageFile {
    /// The largest image file read.
    public static let maxBytes = 64 << 20

    public static func read(path: String) throws -> PixelImage {
        let url = URL(fileURLWithPath: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard let size else { throw VisionDataError.unreadable(path: path, reason: "no such file") }
        guard size <= maxBytes else { throw VisionDataError.malformed(path: path, reason: "\(size) bytes, more than the 64 MB an image may have") }
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch { throw VisionDataError.unreadable(path: path, reason: "\(error.localizedDescription)") }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try PixelImage(png: bytes, path: path) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return try PixelImage(jpeg: bytes, path: path) }
        throw VisionDataError.malformed(path: path, reason: "neither PNG nor JPEG (its first bytes are \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined()))")
    }
}
