import Foundation

/// Typed reads of a config file's top-level values; `null` (or a missing key) reads as unset (nil), and a
/// value of the wrong type is an error naming the file, line and key.
extension ConfigFile {
    func fail(_ key: String, _ expected: String) -> ConfigFileError {
        .syntax(path: path, line: keyLines[key], reason: "\(key): expected \(expected), got \(Self.describe(values[key]))")
    }

    public static func describe(_ v: Any?) -> String {
        guard let v else { return "nothing" }
        if v is NSNull { return "null" }
        if let s = v as? String { return "the text \"\(ErrorText.shortened(s))\"" }
        if let list = v as? [Any] { return "a list of \(list.count)" }
        if v is [String: Any] { return "a mapping" }
        return "\(v)"
    }

    func isUnset(_ key: String) -> Bool { values[key] == nil || values[key] is NSNull }

    /// Whether a value is a boolean: a Swift `Bool` (YAML) or a boolean `NSNumber` (JSON); Linux Foundation
    /// also lets `is Bool` match the JSON numbers 0 and 1, so the type is checked by name.
    public static func isBool(_ v: Any?) -> Bool {
        guard let v else { return false }
        let name = String(describing: type(of: v))
        return name == "Bool" || name.contains("Boolean")
    }

    public func string(_ key: String) throws -> String? {
        if isUnset(key) { return nil }
        guard let s = values[key] as? String else { throw fail(key, "a string") }
        return s
    }

    public func bool(_ key: String) throws -> Bool? {
        if isUnset(key) { return nil }
        guard Self.isBool(values[key]), let b = values[key] as? Bool else { throw fail(key, "true or false") }
        return b
    }

    public func int(_ key: String) throws -> Int? {
        if isUnset(key) { return nil }
        let v = values[key]
        if Self.isBool(v) { throw fail(key, "an integer") }
        if let i = v as? Int { return i }
        if let d = v as? Double, let i = Int(exactly: d) { return i }
        throw fail(key, "an integer")
    }

    /// A non-negative integer (seeds).
    public func uint64(_ key: String) throws -> UInt64? {
        guard let i = try int(key) else { return nil }
        guard let u = UInt64(exactly: i) else { throw fail(key, "a non-negative integer") }
        return u
    }

    /// A number; `nullAs` is returned for an explicit `null` (e.g. 0 for "no clipping").
    public func double(_ key: String, nullAs: Double? = nil) throws -> Double? {
        if values[key] is NSNull { return nullAs }
        if isUnset(key) { return nil }
        let v = values[key]
        if Self.isBool(v) { throw fail(key, "a number") }
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        throw fail(key, "a number")
    }

    /// A list of names or numbers, or one comma-separated string, as the comma-separated text a flag takes.
    public func list(_ key: String) throws -> String? {
        if isUnset(key) { return nil }
        if let s = values[key] as? String { return s }
        guard let items = values[key] as? [Any] else { throw fail(key, "a list or a comma-separated string") }
        return try items.map { item -> String in
            if Self.isBool(item) || item is [Any] || item is [String: Any] || item is NSNull { throw fail(key, "a list of names or numbers") }
            return "\(item)"
        }.joined(separator: ",")
    }
}
