import Foundation
import FuRATensor

/// Writes GGUF v3 files (tensors as F32, F16, Q8_0, Q4_0 or Q4_K), atomically through a temporary file and a rename.
public struct GGUFWriter {
    /// The tensor types `write` encodes (`GGUFQuantize`).
    public static let writableTypes: [GGMLType] = [.f32, .f16, .q8_0, .q4_0, .q4_K]

    /// The data-section alignment; written as `general.alignment` when it is not the default 32.
    public var alignment: Int

    public init(alignment: Int = GGUFFile.defaultAlignment) {
        self.alignment = alignment
    }

    /// Writes `metadata` (in the given order) and `tensors` to `path`.
    ///
    /// Each tensor's ggml dims are its row-major shape reversed; its last dimension must be a multiple of the type's
    /// block (32 for Q8_0 and Q4_0, 256 for Q4_K). Throws `GGUFError.cannotWrite` for unsupported types, mixed arrays or a write failure.
    public func write(metadata: [(key: String, value: GGUFValue)], tensors: [(name: String, tensor: Tensor, type: GGMLType)], to path: String) throws {
        guard alignment > 0, alignment & (alignment - 1) == 0 else { throw GGUFError.invalidAlignment(path: path, alignment: alignment) }
        var entries = metadata.filter { $0.key != "general.alignment" }
        if alignment != GGUFFile.defaultAlignment { entries.append((key: "general.alignment", value: .uint32(UInt32(alignment)))) }
        var out = [UInt8]()
        out.reserveCapacity(1 << 20)
        Self.append(GGUFFile.magic, to: &out)
        Self.append(UInt32(3), to: &out)
        Self.append(UInt64(tensors.count), to: &out)
        Self.append(UInt64(entries.count), to: &out)
        for (key, value) in entries {
            Self.appendString(key, to: &out)
            Self.append(value.typeCode, to: &out)
            try Self.appendValue(value, key: key, path: path, to: &out)
        }
        var offsets: [Int] = []
        var dataSize = 0
        for (name, tensor, type) in tensors {
            guard Self.writableTypes.contains(type) else {
                throw GGUFError.cannotWrite(path: path, reason: "tensor '\(name)': type \(type) cannot be written (use f32, f16, q8_0, q4_0 or q4_K)")
            }
            let dims = Array(tensor.shape.reversed())
            guard !dims.isEmpty, let bytes = type.byteCount(elements: tensor.count), dims[0] % type.blockGeometry.elements == 0 else {
                throw GGUFError.cannotWrite(path: path, reason: "tensor '\(name)' of shape \(tensor.shape): the last dimension must be a multiple of \(type.blockGeometry.elements) for \(type)")
            }
            Self.appendString(name, to: &out)
            Self.append(UInt32(dims.count), to: &out)
            for d in dims { Self.append(UInt64(d), to: &out) }
            Self.append(type.rawValue, to: &out)
            Self.append(UInt64(dataSize), to: &out)
            offsets.append(dataSize)
            dataSize = (dataSize + bytes + alignment - 1) / alignment * alignment
        }
        Self.pad(&out, to: alignment)
        let dataStart = out.count
        for (i, (_, tensor, type)) in tensors.enumerated() {
            out.append(contentsOf: repeatElement(0, count: dataStart + offsets[i] - out.count))
            Self.encode(tensor, as: type, to: &out)
        }
        Self.pad(&out, to: alignment)
        do {
            try AtomicWrite.write(Data(out), to: path)
        } catch {
            throw GGUFError.cannotWrite(path: path, reason: ErrorText.file(error))
        }
    }

    /// Writes `metadata` (keys sorted) and `tensors` to `path`.
    public func write(metadata: [String: GGUFValue], tensors: [(name: String, tensor: Tensor, type: GGMLType)], to path: String) throws {
        try write(metadata: metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }, tensors: tensors, to: path)
    }

    static func encode(_ tensor: Tensor, as type: GGMLType, to out: inout [UInt8]) {
        tensor.withUnsafeBufferPointer { values in
            switch type {
            case .f16: for v in values { append(HalfPrecision.float16Bits(from: v), to: &out) }
            case .q8_0: GGUFQuantize.q8_0(values, to: &out)
            case .q4_0: GGUFQuantize.q4_0(values, to: &out)
            case .q4_K: GGUFQuantize.q4_K(values, to: &out)
            default: for v in values { append(v.bitPattern, to: &out) }
            }
        }
    }

    static func pad(_ out: inout [UInt8], to alignment: Int) {
        let padded = (out.count + alignment - 1) / alignment * alignment
        out.append(contentsOf: repeatElement(0, count: padded - out.count))
    }

    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        let utf8 = Array(s.utf8)
        append(UInt64(utf8.count), to: &out)
        out.append(contentsOf: utf8)
    }

    static func appendValue(_ value: GGUFValue, key: String, path: String, to out: inout [UInt8]) throws {
        switch value {
        case let .uint8(v): append(v, to: &out)
        case let .int8(v): append(v, to: &out)
        case let .uint16(v): append(v, to: &out)
        case let .int16(v): append(v, to: &out)
        case let .uint32(v): append(v, to: &out)
        case let .int32(v): append(v, to: &out)
        case let .uint64(v): append(v, to: &out)
        case let .int64(v): append(v, to: &out)
        case let .float32(v): append(v.bitPattern, to: &out)
        case let .float64(v): append(v.bitPattern, to: &out)
        case let .bool(v): append(UInt8(v ? 1 : 0), to: &out)
        case let .string(v): appendString(v, to: &out)
        case let .array(values):
            let elementType = values.first?.typeCode ?? 4
            guard values.allSatisfy({ $0.typeCode == elementType }) else {
                throw GGUFError.cannotWrite(path: path, reason: "metadata '\(key)': GGUF arrays must hold one element type")
            }
            append(elementType, to: &out)
            append(UInt64(values.count), to: &out)
            for v in values { try appendValue(v, key: key, path: path, to: &out) }
        }
    }
}
