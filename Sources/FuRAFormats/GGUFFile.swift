import FuRATensor

/// Where a tensor lives in a GGUF file and how it is stored.
public struct GGUFTensorInfo: Equatable, Sendable {
    /// The tensor's name (`blk.0.attn_q.weight`).
    public let name: String
    /// Extents in ggml order, fastest-varying first (`ne0` is the row length).
    public let dimensions: [Int]
    /// The storage type.
    public let type: GGMLType
    /// Byte offset from the start of the data section (a multiple of the alignment).
    public let offset: Int

    /// The element count.
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// The row-major shape of the dequantized tensor: ggml dims reversed (`[ne1, ne0]` for a matrix).
    public var shape: [Int] { dimensions.reversed() }
    /// Bytes taken by the data (validated when the file is opened).
    public var byteCount: Int { type.byteCount(elements: elementCount) ?? 0 }
}

/// A GGUF file (v2 or v3), memory-mapped read-only.
///
/// Opening parses the header, all metadata and the tensor directory, validating every count, length and
/// offset against the file's size before anything is allocated; tensor data is read on demand.
public final class GGUFFile: @unchecked Sendable {
    /// The `GGUF` magic as a little-endian `UInt32`.
    public static let magic: UInt32 = 0x4655_4747
    /// The alignment of the data section when `general.alignment` is absent.
    public static let defaultAlignment = 32

    public let path: String
    public let version: UInt32
    /// All metadata key/values.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// The tensor directory, in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data-section alignment in bytes.
    public let alignment: Int
    /// Byte offset of the data section in the file.
    public let dataOffset: Int
    private let file: MappedFile
    private let index: [String: Int]

    /// Opens and validates `path`; throws `GGUFError` (or `FileError`) on a bad or missing file.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        var reader = GGUFReader(bytes: file.bytes, path: path)
        let magic = try reader.read(UInt32.self, "magic")
        guard magic == Self.magic else { throw GGUFError.badMagic(path: path, found: magic) }
        version = try reader.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(path: path, version: version) }
        let tensorCount = try reader.read(UInt64.self, "tensor count")
        let keyCount = try reader.read(UInt64.self, "metadata count")
        // Each key/value needs at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 8 + 4 + 8.
        let keys = try reader.checkedCount(keyCount, minimumBytesEach: 13, what: "metadata key count")
        var metadata: [String: GGUFValue] = [:]
        var order: [String] = []
        for _ in 0..<keys {
            let key = try reader.readString("metadata key")
            let type = try reader.read(UInt32.self, "value type of '\(key)'")
            let value = try reader.readValue(type: type, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else { throw GGUFError.duplicateKey(path: path, key: key) }
            order.append(key)
        }
        self.metadata = metadata
        metadataKeys = order

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard let a = value.asInt, a > 0, a <= 65536, a & (a - 1) == 0 else {
                throw GGUFError.invalidAlignment(path: path, alignment: value.asInt ?? -1)
            }
            alignment = a
        }
        self.alignment = alignment

        let count = try reader.checkedCount(tensorCount, minimumBytesEach: 32, what: "tensor count")
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(count)
        for _ in 0..<count {
            infos.append(try reader.readTensorInfo())
        }
        let dataOffset = (reader.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset
        var index: [String: Int] = [:]
        for (i, info) in infos.enumerated() {
            guard index.updateValue(i, forKey: info.name) == nil else {
                throw GGUFError.invalidTensor(path: path, tensor: info.name, reason: "the name appears twice in the tensor directory")
            }
            guard info.offset % alignment == 0 else {
                throw GGUFError.invalidTensor(path: path, tensor: info.name, reason: "offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            guard let bytes = info.type.byteCount(elements: info.elementCount), info.dimensions[0] % info.type.blockGeometry.elements == 0 else {
                throw GGUFError.invalidTensor(path: path, tensor: info.name, reason: "row length \(info.dimensions[0]) is not a multiple of the \(info.type) block size \(info.type.blockGeometry.elements)")
            }
            let (end, overflow) = (dataOffset + info.offset).addingReportingOverflow(bytes)
            guard !overflow, end <= file.count else {
                throw GGUFError.invalidTensor(path: path, tensor: info.name, reason: "data [\(info.offset), +\(bytes)) after the data start \(dataOffset) runs past the end of the file (\(file.count) bytes)")
            }
        }
        tensors = infos
        self.index = index
    }

    /// The directory entry of the tensor called `name`.
    public func tensorInfo(named name: String) -> GGUFTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The raw bytes of a tensor (valid while this object lives).
    public func rawBytes(of info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[(dataOffset + info.offset)..<(dataOffset + info.offset + info.byteCount)])
    }

    /// The tensor called `name` dequantized to `Float`, shape = ggml dims reversed (`[ne1, ne0]` for a matrix).
    /// Its mapped pages leave the resident set once read (`MappedFile.dropPages`; a later read maps them again).
    public func tensor(named name: String) throws -> Tensor {
        guard let info = tensorInfo(named: name) else { throw GGUFError.tensorNotFound(path: path, tensor: name) }
        guard info.type.isDequantizable else { throw GGUFError.unsupportedTensorType(path: path, tensor: name, type: info.type) }
        defer { file.dropPages((dataOffset + info.offset)..<(dataOffset + info.offset + info.byteCount)) }
        var out = Tensor.zeros(info.shape)
        let raw = rawBytes(of: info)
        try out.withUnsafeMutableBufferPointer { buffer in
            try GGMLDequantize.dequantize(raw, type: info.type, count: info.elementCount, into: buffer)
        }
        return out
    }
}

/// A bounds-checked little-endian cursor over the mapped header.
struct GGUFReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var offset = 0
    /// Arrays may nest; deeper nesting than this is treated as corruption.
    static let maximumDepth = 8

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw GGUFError.truncated(path: path, what: what, offset: offset, needed: size - remaining) }
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += size
        return value
    }

    /// A count read from the header, refused when `count × minimumBytesEach` exceeds the rest of the file.
    func checkedCount(_ count: UInt64, minimumBytesEach: Int, what: String) throws -> Int {
        let limit = remaining / max(1, minimumBytesEach)
        guard count <= UInt64(limit) else { throw GGUFError.implausibleCount(path: path, what: what, count: count, limit: limit) }
        return Int(count)
    }

    mutating func readString(_ what: String) throws -> String {
        let length = try read(UInt64.self, "length of \(what)")
        guard length <= UInt64(remaining) else {
            throw GGUFError.implausibleCount(path: path, what: "length of \(what) at byte \(offset - 8)", count: length, limit: remaining)
        }
        let n = Int(length)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        offset += n
        return String(decoding: slice, as: UTF8.self)
    }

    mutating func readValue(type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try read(UInt8.self, key))
        case 1: return .int8(try read(Int8.self, key))
        case 2: return .uint16(try read(UInt16.self, key))
        case 3: return .int16(try read(Int16.self, key))
        case 4: return .uint32(try read(UInt32.self, key))
        case 5: return .int32(try read(Int32.self, key))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self, key)))
        case 7: return .bool(try read(UInt8.self, key) != 0)
        case 8: return .string(try readString("value of '\(key)'"))
        case 9:
            guard depth < Self.maximumDepth else {
                throw GGUFError.implausibleCount(path: path, what: "array nesting depth of '\(key)'", count: UInt64(depth + 1), limit: Self.maximumDepth)
            }
            let elementType = try read(UInt32.self, "array type of '\(key)'")
            let rawCount = try read(UInt64.self, "array length of '\(key)'")
            let minimum: Int
            switch elementType {
            case 0, 1, 7: minimum = 1
            case 2, 3: minimum = 2
            case 4, 5, 6: minimum = 4
            case 8, 10, 11, 12: minimum = 8
            case 9: minimum = 12
            default: throw GGUFError.unknownValueType(path: path, key: key, type: elementType)
            }
            let count = try checkedCount(rawCount, minimumBytesEach: minimum, what: "array length of '\(key)'")
            var values: [GGUFValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try readValue(type: elementType, key: key, depth: depth + 1)) }
            return .array(values)
        case 10: return .uint64(try read(UInt64.self, key))
        case 11: return .int64(try read(Int64.self, key))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, key)))
        default: throw GGUFError.unknownValueType(path: path, key: key, type: type)
        }
    }

    mutating func readTensorInfo() throws -> GGUFTensorInfo {
        let name = try readString("tensor name")
        let rank = try read(UInt32.self, "rank of '\(name)'")
        guard rank >= 1, rank <= 4 else {
            throw GGUFError.invalidTensor(path: path, tensor: name, reason: "rank \(rank) is outside 1…4")
        }
        var dims: [Int] = []
        var total: UInt64 = 1
        for _ in 0..<rank {
            let d = try read(UInt64.self, "dimension of '\(name)'")
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow, product <= UInt64(bytes.count) * 64 else {
                throw GGUFError.implausibleCount(path: path, what: "element count of '\(name)'", count: overflow ? UInt64.max : product, limit: bytes.count * 64)
            }
            total = product
            dims.append(Int(d))
        }
        let rawType = try read(UInt32.self, "type of '\(name)'")
        guard let type = GGMLType(rawValue: rawType) else { throw GGUFError.unknownTensorType(path: path, tensor: name, type: rawType) }
        let off = try read(UInt64.self, "offset of '\(name)'")
        guard off <= UInt64(bytes.count) else {
            throw GGUFError.invalidTensor(path: path, tensor: name, reason: "offset \(off) is past the end of the file (\(bytes.count) bytes)")
        }
        return GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(off))
    }
}
