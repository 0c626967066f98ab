import CZlib
import Foundation

/// gzip decompression through zlib (`inflate` with gzip headers), with a cap on the output size.
public enum Gzip {
    /// The decompressed bytes of `data` (a gzip stream); more than `limit` bytes is an error, not an allocation.
    public static func decompress(_ data: [UInt8], limit: Int, path: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw VisionDataError.unreadable(path: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var input = data
        var status: Int32 = Z_OK
        try input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            repeat {
                try chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    guard status == Z_OK || status == Z_STREAM_END else {
                        throw VisionDataError.malformed(path: path, reason: "not a valid gzip stream (zlib status \(status))")
                    }
                    let produced = buffer.count - Int(stream.avail_out)
                    guard out.count + produced <= limit else {
                        throw VisionDataError.malformed(path: path, reason: "decompresses to more than \(limit) bytes")
                    }
                    out.append(contentsOf: buffer[0..<produced])
                }
                if status == Z_OK, stream.avail_in == 0, stream.avail_out != 0 {
                    throw VisionDataError.malformed(path: path, reason: "the gzip stream is truncated")
                }
            } while status != Z_STREAM_END
        }
        return out
    }
}
