/// An IDX file (the MNIST format): magic `0 0 type rank`, `rank` big-endian u32 extents, then the data. Only unsigned
/// bytes (type 0x08) are read; every extent is checked against the bytes there before use.
public struct IDXFile: Equatable {
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(_ data: [UInt8], path: String) throws {
        func fail(_ reason: String) -> VisionDataError { .malformed(path: path, reason: "not an IDX file of bytes: \(reason)") }
        guard data.count >= 4, data[0] == 0, data[1] == 0 else { throw fail("bad magic") }
        guard data[2] == 0x08 else { throw fail("element type 0x\(String(data[2], radix: 16)), expected 0x08 (unsigned byte)") }
        let rank = Int(data[3])
        guard (1...4).contains(rank), data.count >= 4 + 4 * rank else { throw fail("rank \(rank) (expected 1…4) or a truncated header") }
        var shape: [Int] = []
        var count = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let extent = Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3])
            guard extent > 0 else { throw fail("extent \(d) is 0") }
            count *= extent
            guard count <= data.count else { throw fail("extents \(shape + [extent]) need more bytes than the file's \(data.count)") }
            shape.append(extent)
        }
        let start = 4 + 4 * rank
        guard data.count - start == count else { throw fail("extents \(shape) need \(count) bytes, the file has \(data.count - start)") }
        self.shape = shape
        self.bytes = Array(data[start...])
    }
}
