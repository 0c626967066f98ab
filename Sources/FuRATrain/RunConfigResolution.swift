import Foundation
import FuRAFormats

/// How every run configuration is built: defaults ← config file (YAML/JSON, same keys) ← flags given on the
/// command line; unknown keys are errors naming the key; `null` clears an optional value. `fura train` and
/// `fura grpo` both resolve this way, and both save the result as `DIR/config.json`, which `--config` reads back.
public enum RunConfigResolution {
    /// Merges `file` (a JSON object, or nil) and `overrides` over `defaults(method)` and decodes `T`.
    /// `method` is the merged `method` value (nil when unset).
    public static func resolve<T: Codable>(_ type: T.Type, keys: [String], file: Data?, filePath: String, overrides: [String: Any],
                                          defaults: (String?) throws -> T) throws -> T {
        var merged = [String: Any]()
        if let file {
            guard let object = try? JSONSerialization.jsonObject(with: file) as? [String: Any] else {
                throw TrainingError.invalidOption(option: "config", value: filePath, reason: "expected a JSON object of settings")
            }
            merged = object
        }
        for (key, value) in overrides { merged[key] = value }
        let known = Set(keys)
        if let unknown = merged.keys.sorted().first(where: { !known.contains($0) }) {
            throw TrainingError.invalidOption(option: "config", value: "\(filePath): \(unknown.prefix(80))",
                                              reason: "unknown key; known keys: \(keys.sorted().joined(separator: ", "))")
        }
        let base = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(defaults(merged["method"] as? String))) as? [String: Any] ?? [:]
        var combined = base
        for (key, value) in merged {
            if value is NSNull { combined.removeValue(forKey: key) } else { combined[key] = value }
        }
        let data = try JSONSerialization.data(withJSONObject: combined)
        do { return try JSONDecoder().decode(T.self, from: data) } catch let DecodingError.typeMismatch(_, context) {
            throw TrainingError.invalidOption(option: context.codingPath.map(\.stringValue).joined(separator: "."), value: filePath,
                                              reason: "wrong type: \(context.debugDescription)")
        } catch let DecodingError.dataCorrupted(context) {
            throw TrainingError.invalidOption(option: context.codingPath.map(\.stringValue).joined(separator: "."), value: filePath,
                                              reason: context.debugDescription)
        } catch let DecodingError.valueNotFound(_, context) {
            throw TrainingError.invalidOption(option: context.codingPath.map(\.stringValue).joined(separator: "."), value: filePath,
                                              reason: "a value is required")
        } catch let DecodingError.keyNotFound(key, _) {
            throw TrainingError.invalidOption(option: key.stringValue, value: filePath, reason: "a value is required")
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.invalidOption(option: "config", value: filePath, reason: "\(error)")
        }
    }

    /// The same from a `ConfigFile` (YAML or JSON): an unknown key is an error naming the file and line.
    public static func resolve<T: Codable>(_ type: T.Type, keys: [String], configFile: ConfigFile?, overrides: [String: Any],
                                          defaults: (String?) throws -> T) throws -> T {
        guard let configFile else { return try resolve(type, keys: keys, file: nil, filePath: "flags", overrides: overrides, defaults: defaults) }
        do {
            try configFile.checkKeys(keys)
            return try resolve(type, keys: keys, file: try configFile.jsonData(), filePath: configFile.path, overrides: overrides, defaults: defaults)
        } catch let error as ConfigFileError {
            throw TrainingError.invalidOption(option: "config", value: configFile.path, reason: error.description)
        }
    }

    /// Pretty, key-sorted JSON of a resolved config.
    public static func json<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
