import Foundation
import FuRATensor

/// Element types of safetensors, with their sizes in bytes.
public enum SafetensorsDtype: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f64 = "F64", i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case u16 = "U16", u32 = "U32", u64 = "U64", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }
}

/// One entry of a safetensors header.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDtype
    public let shape: [Int]
    /// Byte range inside the data section (after the 8-byte length and the header).
    public let dataRange: Range<Int>
}

/// A `.safetensors` file, memory-mapped read-only, with its header validated against the file size.
public final class SafetensorsFile: @unchecked Sendable {
    /// The largest header accepted (the reference implementation's limit).
    public static let maximumHeaderBytes = 100_000_000

    public let path: String
    /// Tensor entries by name.
    public let infos: [String: SafetensorsTensorInfo]
    /// The `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    /// Opens and validates `path`; throws `SafetensorsError` (or `FileError`) on a bad or missing file.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= 8 else { throw SafetensorsError.tooSmall(path: path, size: bytes.count) }
        let length = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard length <= UInt64(bytes.count - 8), length <= UInt64(Self.maximumHeaderBytes) else {
            throw SafetensorsError.headerTooLarge(path: path, length: length, fileSize: bytes.count)
        }
        let headerLength = Int(length)
        dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw SafetensorsError.invalidHeader(path: path, reason: "not valid JSON (\(ErrorText.json(error)))")
        }
        guard let header = json as? [String: Any] else { throw SafetensorsError.invalidHeader(path: path, reason: "the header is not a JSON object") }
        var infos: [String: SafetensorsTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw SafetensorsError.invalidHeader(path: path, reason: "__metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw SafetensorsError.invalidHeader(path: path, reason: "__metadata__['\(k)'] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            infos[name] = try Self.parseEntry(name, value, dataLength: dataLength, path: path)
        }
        try Self.checkNoOverlap(infos, path: path)
        self.infos = infos
        self.metadata = metadata
    }

    /// Two tensors may not share bytes: a header whose `data_offsets` overlap is corrupt (or crafted so that writing one
    /// tensor changes another), and is refused naming both tensors.
    static func checkNoOverlap(_ infos: [String: SafetensorsTensorInfo], path: String) throws {
        let ranges = infos.values.filter { !$0.dataRange.isEmpty }
            .sorted { ($0.dataRange.lowerBound, $0.name) < ($1.dataRange.lowerBound, $1.name) }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.dataRange.lowerBound < previous.dataRange.upperBound {
            throw SafetensorsError.invalidTensor(
                path: path, tensor: next.name,
                reason: "data_offsets [\(next.dataRange.lowerBound), \(next.dataRange.upperBound)) overlap those of '\(previous.name)' "
                    + "[\(previous.dataRange.lowerBound), \(previous.dataRange.upperBound)); the file is corrupt, write it again")
        }
    }

    static func parseEntry(_ name: String, _ value: Any, dataLength: Int, path: String) throws -> SafetensorsTensorInfo {
        func fail(_ reason: String) -> SafetensorsError { .invalidTensor(path: path, tensor: name, reason: reason) }
        guard let entry = value as? [String: Any] else { throw fail("the entry is not an object") }
        guard let dtypeName = entry["dtype"] as? String else { throw fail("'dtype' is missing") }
        guard let dtype = SafetensorsDtype(rawValue: dtypeName) else { throw fail("unknown dtype '\(dtypeName)'") }
        guard let shapeValues = entry["shape"] as? [Any], shapeValues.count <= 8 else { throw fail("'shape' is missing or has more than 8 dimensions") }
        var shape: [Int] = []
        var elements = 1
        for v in shapeValues {
            guard let n = v as? NSNumber, let d = Int(exactly: n.doubleValue), d >= 0 else { throw fail("shape \(shapeValues) has a non-integer or negative extent") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow, product <= dataLength else { throw fail("shape \(shapeValues) holds more elements than the file has bytes") }
            elements = product
            shape.append(d)
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
              let begin = (offsets[0] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
              let end = (offsets[1] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }) else {
            throw fail("'data_offsets' must be two integers")
        }
        guard 0 <= begin, begin <= end, end <= dataLength else {
            throw fail("data_offsets [\(begin), \(end)) are outside the data section of \(dataLength) bytes")
        }
        guard end - begin == elements * dtype.size else {
            throw fail("\(dtypeName) shape \(shape) needs \(elements * dtype.size) bytes, data_offsets give \(end - begin)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    /// Tensor names, sorted.
    public var tensorNames: [String] { infos.keys.sorted() }

    /// The tensor called `name` converted to `Float` (F32, F16 and BF16). Its mapped pages leave the resident set
    /// once read (`MappedFile.dropPages`): loading a model tensor by tensor never holds the file and its copy at once.
    public func tensor(named name: String) throws -> Tensor {
        guard let info = infos[name] else { throw SafetensorsError.tensorNotFound(path: path, tensor: name) }
        let count = info.shape.reduce(1, *)
        let bytes = (dataStart + info.dataRange.lowerBound)..<(dataStart + info.dataRange.upperBound)
        defer { file.dropPages(bytes) }
        let raw = UnsafeRawBufferPointer(rebasing: file.bytes[bytes])
        var out = Tensor.zeros(info.shape)
        let type: GGMLType
        switch info.dtype {
        case .f32: type = .f32
        case .f16: type = .f16
        case .bf16: type = .bf16
        default: throw SafetensorsError.unsupportedDtype(path: path, tensor: name, dtype: info.dtype.rawValue)
        }
        try out.withUnsafeMutableBufferPointer { try GGMLDequantize.dequantize(raw, type: type, count: count, into: $0) }
        return out
    }
}
