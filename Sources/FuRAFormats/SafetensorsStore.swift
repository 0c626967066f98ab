import Foundation
import FuRATensor

/// A Hugging Face model directory's weights: one `model.safetensors`, or shards listed by `model.safetensors.index.json`.
public final class SafetensorsStore: @unchecked Sendable {
    public let directory: String
    /// The files by name (relative to the directory).
    public let files: [String: SafetensorsFile]
    /// Which file holds each tensor.
    public let weightMap: [String: String]

    /// Opens the weights in `directory`, validating every file and that the index names only tensors that exist.
    public init(directory: String) throws {
        self.directory = directory
        let indexPath = directory + "/model.safetensors.index.json"
        let singlePath = directory + "/model.safetensors"
        var map: [String: String] = [:]
        var files: [String: SafetensorsFile] = [:]
        if FileManager.default.fileExists(atPath: indexPath) {
            guard let data = FileManager.default.contents(atPath: indexPath),
                  let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw SafetensorsError.invalidIndex(path: indexPath, reason: "not a JSON object")
            }
            guard let weights = root["weight_map"] as? [String: Any] else { throw SafetensorsError.invalidIndex(path: indexPath, reason: "'weight_map' is missing") }
            for (name, value) in weights {
                guard let file = value as? String, !file.contains("/"), file.hasSuffix(".safetensors") else {
                    throw SafetensorsError.invalidIndex(path: indexPath, reason: "tensor '\(name)' maps to \(value), expected a .safetensors file name in the same directory")
                }
                map[name] = file
            }
            for file in Set(map.values) { files[file] = try SafetensorsFile(path: directory + "/" + file) }
            for (name, file) in map where files[file]?.infos[name] == nil {
                throw SafetensorsError.invalidIndex(path: indexPath, reason: "tensor '\(name)' is listed in \(file) but that file does not hold it")
            }
        } else if FileManager.default.fileExists(atPath: singlePath) {
            let file = try SafetensorsFile(path: singlePath)
            files["model.safetensors"] = file
            for name in file.infos.keys { map[name] = "model.safetensors" }
        } else {
            throw SafetensorsError.missingModelFiles(directory: directory)
        }
        self.files = files
        weightMap = map
    }

    /// Tensor names, sorted.
    public var tensorNames: [String] { weightMap.keys.sorted() }

    /// The `__metadata__` of the first file (by name).
    public var metadata: [String: String] { files.keys.sorted().first.flatMap { files[$0]?.metadata } ?? [:] }

    /// The tensor called `name`, converted to `Float`.
    public func tensor(named name: String) throws -> Tensor {
        guard let file = weightMap[name], let handle = files[file] else { throw SafetensorsError.tensorNotFound(path: directory, tensor: name) }
        return try handle.tensor(named: name)
    }

    /// The header entry of `name`, if present.
    public func info(named name: String) -> SafetensorsTensorInfo? {
        weightMap[name].flatMap { files[$0]?.infos[name] }
    }
}
