import Foundation
import FuRAFormats

/// How every run configuration is built: defaults ← config file (YAML/JSON, same keys) ← flags given on the
/// command line; unknown keys are errors naming the key; `null` clears an optional value. `fura train` and
/// `fura grpo` both resolve this way, and both save the result as `DIR/config.json`, which `--config` reads back.
public enum RunConfigResolution {
    /// Merges `file` (a JSON object, or nil) and `overrides` over `defaults(method)` and decodes `T`.
    /// `method` is the merged `method` value (nil when unset). `location` names where a key was set ("run.yaml:3").
    public static func resolve<T: Codable>(_ type: T.Type, keys: [String], file: Data?, filePath: String, overrides: [String: Any],
                                          location: ((String) -> String)? = nil, defaults: (String?) throws -> T) throws -> T {
        var merged = [String: Any]()
        if let file {
            guard let object = try? JSONSerialization.jsonObject(with: TextFileData.withoutByteOrderMark(file)) as? [String: Any] else {
                throw TrainingError.invalidOption(option: "config", value: filePath, reason: "expected a JSON object of settings")
            }
            merged = object
        }
        for (key, value) in overrides { merged[key] = value }
        let known = Set(keys)
        if let unknown = merged.keys.sorted().first(where: { !known.contains($0) }) {
            throw TrainingError.invalidOption(option: "config", value: "\(filePath): \(ErrorText.shortened(unknown))",
                                              reason: "unknown key; known keys: \(keys.sorted().joined(separator: ", "))")
        }
        let base = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(defaults(merged["method"] as? String))) as? [String: Any] ?? [:]
        let combined = overlay(merged, on: base)
        if let decoded = try? decode(T.self, combined) { return decoded }
        // Name the setting: the first key whose value, put back to its default, lets the rest decode.
        let whereSet = { (key: String) in overrides[key] != nil ? "the command line" : (location?(key) ?? filePath) }
        for key in merged.keys.sorted(by: { (whereSet($0), $0) < (whereSet($1), $1) }) {
            var trial = combined
            trial[key] = base[key]
            guard (try? decode(T.self, trial)) != nil else { continue }
            throw TrainingError.badSetting(location: whereSet(key), key: key,
                                           reason: "expected \(expectation(default: base[key], given: merged[key])), found \(ConfigFile.describe(merged[key]))")
        }
        do { return try decode(T.self, combined) } catch let DecodingError.keyNotFound(key, _) {
            throw TrainingError.invalidOption(option: key.stringValue, value: filePath, reason: "a value is required")
        } catch {
            throw TrainingError.invalidOption(option: "config", value: filePath, reason: ErrorText.decoding(error))
        }
    }

    /// `merged` over `base`; `null` clears a value (back to unset, for the optional settings).
    static func overlay(_ merged: [String: Any], on base: [String: Any]) -> [String: Any] {
        var combined = base
        for (key, value) in merged {
            if value is NSNull { combined.removeValue(forKey: key) } else { combined[key] = value }
        }
        return combined
    }

    static func decode<T: Decodable>(_ type: T.Type, _ object: [String: Any]) throws -> T {
        try JSONDecoder().decode(T.self, from: try JSONSerialization.data(withJSONObject: object))
    }

    /// What a setting takes, judged from its default's JSON type (a number where a whole number failed: an integer).
    static func expectation(default value: Any?, given: Any?) -> String {
        if given is NSNull { return "a value (null clears only settings that may be unset)" }
        switch value {
        case let v? where ConfigFile.isBool(v): return "true or false"
        case is String: return "text"
        case is [Any]: return "a list"
        case is NSNumber: return given is NSNumber ? "a whole number in range" : "a number"
        default: return "a value of the setting's kind (see --help)"
        }
    }

    /// The same from a `ConfigFile` (YAML or JSON): errors name the file and line.
    public static func resolve<T: Codable>(_ type: T.Type, keys: [String], configFile: ConfigFile?, overrides: [String: Any],
                                          defaults: (String?) throws -> T) throws -> T {
        guard let configFile else { return try resolve(type, keys: keys, file: nil, filePath: "flags", overrides: overrides, defaults: defaults) }
        try configFile.checkKeys(keys)
        return try resolve(type, keys: keys, file: try configFile.jsonData(), filePath: configFile.path, overrides: overrides,
                           location: configFile.location(of:), defaults: defaults)
    }

    /// Pretty, key-sorted JSON of a resolved config.
    public static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
