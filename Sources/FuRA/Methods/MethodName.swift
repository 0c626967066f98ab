/// The name of a fine-tuning method (`fura`, `lora`, …), checked against `MethodRegistry` when parsed.
///
/// Each method declares its own constant next to its type (`extension MethodName { static let lora … }`),
/// so adding a method needs no edit here.
public struct MethodName: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    /// A registered method's name, or nil.
    public init?(rawValue: String) {
        guard MethodRegistry.names.contains(where: { $0.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    /// A constant spelled in code (method folders declare theirs this way).
    public init(stringLiteral value: String) { rawValue = value }

    /// Parses a user's text; the error lists every registered method.
    public init(parsing text: String, option: String = "method") throws {
        guard let name = MethodName(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
            throw MethodError.unknownMethod(option: option, value: text, known: MethodRegistry.names.map(\.rawValue))
        }
        self = name
    }

    /// Every registered method, in the registry's order.
    public static var allCases: [MethodName] { MethodRegistry.names }

    public var description: String { rawValue }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let name = MethodName(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription:
                "unknown method \"\(text)\"; expected one of \(MethodRegistry.names.map(\.rawValue).joined(separator: ", "))"))
        }
        self = name
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The plan's name for a method (the same names).
public typealias PlanMethod = MethodName

/// Errors choosing or configuring a method; each names the option and the valid values.
public enum MethodError: Error, CustomStringConvertible, Equatable {
    case unknownMethod(option: String, value: String, known: [String])
    case invalidOption(method: String, option: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .unknownMethod(option, value, known):
            return "invalid \(option) = \(value); expected one of \(known.joined(separator: ", "))"
        case let .invalidOption(method, option, value, expected):
            return "\(method): invalid \(option) = \(value); expected \(expected)"
        }
    }
}
