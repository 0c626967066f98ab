import Foundation

/// The bytes of a text file as parsers want them: a leading UTF-8 byte-order mark (which Windows editors write and
/// JSON forbids) is dropped, so a data or config file saved with one reads like one saved without.
public enum TextFileData {
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// `data` without its leading UTF-8 byte-order mark, if it has one.
    public static func withoutByteOrderMark(_ data: Data) -> Data {
        data.starts(with: byteOrderMark) ? data.dropFirst(byteOrderMark.count) : data
    }

    /// Reads the file at `path` (throwing Foundation's error) without its byte-order mark.
    public static func read(_ path: String) throws -> Data {
        withoutByteOrderMark(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
