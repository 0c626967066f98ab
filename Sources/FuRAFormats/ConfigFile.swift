import Foundation

/// Why a configuration file could not be read.
public enum ConfigFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case syntax(path: String, line: Int?, reason: String)
    case notAMapping(path: String)
    case badValue(path: String, key: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read the config file (\(reason))"
        case let .syntax(path, line, reason): return "\(path)\(line.map { ":\($0)" } ?? ""): \(ErrorText.shortened(reason, limit: 300))"
        case let .notAMapping(path): return "\(path): a config file must be a mapping of option names to values (key: value lines, or a JSON object)"
        case let .badValue(path, key, reason): return "\(path): \(ErrorText.shortened(key)): \(ErrorText.shortened(reason, limit: 300))"
        }
    }
}

/// A run's settings file: YAML (the subset `YAMLSubset` reads) or JSON, with the same keys.
///
/// JSON is recognized by a `.json` extension or a first character `{`; anything else is read as YAML.
public struct ConfigFile {
    public let path: String
    /// The top-level mapping (values as `JSONSerialization` gives them).
    public let values: [String: Any]
    /// The 1-based line of each top-level key (YAML files; empty for JSON).
    public let keyLines: [String: Int]

    /// Reads the file at `path`.
    public init(path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigFileError.unreadable(path: path, reason: ErrorText.file(error))
        }
        try self.init(data: data, path: path)
    }

    /// Reads `data`, the contents of `path`.
    public init(data: Data, path: String) throws {
        self.path = path
        let data = TextFileData.withoutByteOrderMark(data)
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigFileError.syntax(path: path, line: nil, reason: "the file is not UTF-8 text")
        }
        let value: Any
        if path.lowercased().hasSuffix(".json") || text.first(where: { !$0.isWhitespace }) == "{" {
            do { value = try JSONSerialization.jsonObject(with: data) } catch {
                throw ConfigFileError.syntax(path: path, line: nil, reason: "invalid JSON (\(ErrorText.json(error)))")
            }
            keyLines = [:]
        } else {
            do { (value, keyLines) = try YAMLSubset.parseDocument(text, path: path) } catch let error as YAMLError {
                throw ConfigFileError.syntax(path: path, line: error.line, reason: error.reason)
            }
        }
        guard let object = value as? [String: Any] else { throw ConfigFileError.notAMapping(path: path) }
        for (key, v) in object { try Self.checkFinite(v, path: path, key: key) }
        values = object
    }

    /// "path:line" of a top-level key (or the path alone when the line is unknown).
    public func location(of key: String) -> String { keyLines[key].map { "\(path):\($0)" } ?? path }

    /// An error for a key no option has, listing the known ones.
    public func unknownKey(_ key: String, known: [String]) -> ConfigFileError {
        .syntax(path: path, line: keyLines[key], reason: "unknown key \"\(ErrorText.shortened(key))\"; known keys: \(known.sorted().joined(separator: ", "))")
    }

    /// The first key not in `known`, as an error.
    public func checkKeys(_ known: [String]) throws {
        let allowed = Set(known)
        if let bad = values.keys.sorted(by: { (keyLines[$0] ?? 0, $0) < (keyLines[$1] ?? 0, $1) }).first(where: { !allowed.contains($0) }) {
            throw unknownKey(bad, known: known)
        }
    }

    /// The mapping re-encoded as JSON (for readers that decode JSON).
    public func jsonData() throws -> Data {
        try JSONSerialization.data(withJSONObject: values, options: [.sortedKeys])
    }

    /// JSON cannot hold infinities or NaN; settings never need them.
    static func checkFinite(_ value: Any, path: String, key: String) throws {
        if let d = value as? Double, !(value is Bool), !d.isFinite {
            throw ConfigFileError.badValue(path: path, key: key, reason: "\(d) is not a finite number")
        }
        if let list = value as? [Any] { for v in list { try checkFinite(v, path: path, key: key) } }
        if let map = value as? [String: Any] { for (k, v) in map { try checkFinite(v, path: path, key: "\(key).\(k)") } }
    }
}
