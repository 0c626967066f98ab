import Foundation

/// The formats fura reads from users' files, each with valid seed inputs and a way to run one input through the
/// loader that reads it. A run either accepts the input or refuses it with a typed, one-line error; anything else (a
/// crash, a trap, an untyped or multi-line error, Foundation's dumps) is a finding.
public enum FuzzFormat: String, CaseIterable, Sendable {
    case gguf
    case safetensors
    case tokenizer
    case modelConfig = "model-config"
    case runConfig = "run-config"
    case trainingData = "training-data"
    case adapterConfig = "adapter-config"
    case image
    case onnx
    case visualData = "visual-data"

    /// Whether the format is text (JSON or YAML): the mutator then also swaps values and keys.
    public var isText: Bool { ![.gguf, .safetensors, .image, .onnx].contains(self) }
}

/// What one input did.
public enum FuzzOutcome: Equatable, Sendable {
    case accepted
    case refused(String)
}

/// A loader broke its contract on an input: the message says how.
public struct FuzzFinding: Error, CustomStringConvertible {
    public let format: FuzzFormat
    public let problem: String
    public var description: String { "\(format.rawValue): \(problem)" }

    public init(format: FuzzFormat, problem: String) { self.format = format; self.problem = problem }
}

extension FuzzFormat {
    /// Runs `input` through the loader, in a scratch directory of its own (files are how these formats arrive).
    public func exercise(_ input: [UInt8], scratch: FuzzScratch) throws -> FuzzOutcome {
        do {
            try load(input, scratch: scratch)
            return .accepted
        } catch let finding as FuzzFinding {
            throw finding
        } catch {
            let message = "\(error)"
            guard error is CustomStringConvertible else {
                throw FuzzFinding(format: self, problem: "untyped error \(type(of: error)): \(message.prefix(200))")
            }
            for bad in ["\n", "Domain=", "CodingKeys(", "DecodingError", "UserInfo="] where message.contains(bad) {
                throw FuzzFinding(format: self, problem: "message contains \(bad.debugDescription): \(message.prefix(300))")
            }
            guard !message.isEmpty, message.utf8.count <= 2_000 else {
                throw FuzzFinding(format: self, problem: "message of \(message.utf8.count) bytes: \(message.prefix(200))…")
            }
            return .refused(message)
        }
    }
}

/// A private directory for the files of one input, emptied before each.
public final class FuzzScratch {
    public let directory: String

    public init(tag: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fura-fuzz-\(tag)-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Writes `bytes` as `name` in the scratch directory and returns its path.
    public func write(_ bytes: [UInt8], as name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    public func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
