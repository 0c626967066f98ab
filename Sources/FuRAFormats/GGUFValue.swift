/// One metadata value of a GGUF file, with the file's exact scalar type.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    /// An array; GGUF arrays are homogeneous and may nest.
    case array([GGUFValue])

    /// The value as an `Int` for every integer type (nil for others or when it does not fit).
    public var asInt: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// The value as a `Double` for every numeric type.
    public var asDouble: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return asInt.map(Double.init)
        }
    }

    /// The value as a `Bool` (bool only).
    public var asBool: Bool? {
        if case let .bool(v) = self { return v }
        return nil
    }

    /// The value as a `String` (string only).
    public var asString: String? {
        if case let .string(v) = self { return v }
        return nil
    }

    /// The elements of an array.
    public var asArray: [GGUFValue]? {
        if case let .array(v) = self { return v }
        return nil
    }

    /// The elements of an array of strings (nil when any element is not a string).
    public var asStringArray: [String]? {
        guard case let .array(values) = self else { return nil }
        var out: [String] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard case let .string(s) = v else { return nil }
            out.append(s)
        }
        return out
    }

    /// The elements of an array of integers.
    public var asIntArray: [Int]? {
        guard case let .array(values) = self else { return nil }
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let i = v.asInt else { return nil }
            out.append(i)
        }
        return out
    }

    /// The GGUF type code of this value (0…12).
    public var typeCode: UInt32 {
        switch self {
        case .uint8: return 0
        case .int8: return 1
        case .uint16: return 2
        case .int16: return 3
        case .uint32: return 4
        case .int32: return 5
        case .float32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .uint64: return 10
        case .int64: return 11
        case .float64: return 12
        }
    }
}
