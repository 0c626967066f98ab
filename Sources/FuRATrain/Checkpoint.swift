import Foundation
import FuRAFormats
import FuRANN
import FuRATensor

/// A training checkpoint `DIR/checkpoint-N/`: `state.json` (step, schedule, optimizer header, RNG,
/// data cursor, tensor index) and `tensors.bin` (per trainable tensor: value, first moment, second
/// moment, raw little-endian Float32), enough for a bit-identical resume.
///
/// Written into a hidden temporary directory and renamed into place, so a kill at any moment leaves the
/// previous checkpoints usable; directories that are not `checkpoint-<digits>` are ignored by `latest`.
public struct Checkpoint {
    /// The small part of the state, as JSON.
    public struct State: Codable, Equatable, Sendable {
        public var formatVersion: Int
        /// Optimizer steps done.
        public var step: Int
        public var schedule: LearningRateSchedule
        public var optimizer: AdamWHeader
        public var rng: RNG
        public var cursor: DataCursor
        public var tensors: [Entry]

        enum CodingKeys: String, CodingKey {
            case formatVersion = "format_version", step, schedule, optimizer, rng, cursor, tensors
        }
    }

    /// One tensor of `tensors.bin`.
    public struct Entry: Codable, Equatable, Sendable {
        public var name: String
        public var shape: [Int]
    }

    public static let stateFile = "state.json"
    public static let tensorFile = "tensors.bin"
    public static let currentFormat = 1

    public var state: State
    /// Values and moments, by name.
    public var values: [String: [Float]]
    public var moments: [String: AdamW.Moments]

    /// Captures the trainable parameters and the optimizer.
    public init(step: Int, schedule: LearningRateSchedule, optimizer: AdamW, rng: RNG, cursor: DataCursor,
                parameters: [(name: String, parameter: Parameter)]) {
        var entries = [Entry](), values = [String: [Float]](), moments = [String: AdamW.Moments]()
        for (name, parameter) in parameters where parameter.trainable {
            entries.append(Entry(name: name, shape: parameter.value.shape))
            values[name] = parameter.value.storage
            let zeros = [Float](repeating: 0, count: parameter.count)
            moments[name] = optimizer.moments[name] ?? AdamW.Moments(exponentialAverage: zeros, exponentialAverageSquared: zeros)
        }
        state = State(formatVersion: Self.currentFormat, step: step, schedule: schedule,
                      optimizer: AdamWHeader(options: optimizer.options, stepCount: optimizer.stepCount),
                      rng: rng, cursor: cursor, tensors: entries)
        self.values = values
        self.moments = moments
    }

    /// The directory name of step `step`.
    public static func directoryName(step: Int) -> String { "checkpoint-\(step)" }

    /// Writes `DIR/checkpoint-N/` atomically (temporary directory, then rename) and keeps the newest `keep`.
    /// `contents` adds files to the checkpoint's folder before it is renamed into place (the adapter of its weights).
    @discardableResult
    public func write(into directory: URL, keep: Int, contents: ((URL) throws -> Void)? = nil) throws -> URL {
        let fm = FileManager.default
        let final = directory.appendingPathComponent(Self.directoryName(step: state.step))
        let temporary = directory.appendingPathComponent(".\(Self.directoryName(step: state.step)).tmp-\(UUID().uuidString)")
        for entry in state.tensors {
            let arrays = [values[entry.name], moments[entry.name]?.exponentialAverage, moments[entry.name]?.exponentialAverageSquared]
            if arrays.contains(where: { $0?.contains { !$0.isFinite } ?? false }) {
                throw TrainingError.nonFinite(step: state.step, quantity: "\(entry.name) in checkpoint-\(state.step) (not written)",
                                              value: .nan)
            }
        }
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
            var blob = Data()
            blob.reserveCapacity(state.tensors.reduce(0) { $0 + 12 * $1.shape.reduce(1, *) })
            for entry in state.tensors {
                guard let value = values[entry.name], let m = moments[entry.name] else { continue }
                for array in [value, m.exponentialAverage, m.exponentialAverageSquared] {
                    array.withUnsafeBytes { blob.append(contentsOf: $0) }
                }
            }
            try blob.write(to: temporary.appendingPathComponent(Self.tensorFile))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(state).write(to: temporary.appendingPathComponent(Self.stateFile))
            try contents?(temporary)
            if fm.fileExists(atPath: final.path) {
                let old = directory.appendingPathComponent(".\(Self.directoryName(step: state.step)).old-\(UUID().uuidString)")
                try fm.moveItem(at: final, to: old)
                try fm.moveItem(at: temporary, to: final)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: temporary, to: final)
            }
        } catch {
            try? fm.removeItem(at: temporary)
            throw TrainingError.writeFailed(path: final.path, reason: ErrorText.file(error))
        }
        Self.prune(directory, keep: keep)
        return final
    }

    /// Removes all but the newest `keep` checkpoints, and leftovers of interrupted writes.
    static func prune(_ directory: URL, keep: Int) {
        let fm = FileManager.default
        let steps = Self.steps(in: directory)
        for step in steps.dropFirst(max(1, keep)) {
            try? fm.removeItem(at: directory.appendingPathComponent(directoryName(step: step)))
        }
        for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        where name.hasPrefix(".checkpoint-") && (name.contains(".tmp-") || name.contains(".old-")) {
            try? fm.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// Steps of the `checkpoint-N` directories in `directory`, newest first.
    public static func steps(in directory: URL) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("checkpoint-") else { return nil }
            let digits = name.dropFirst("checkpoint-".count)
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
            return Int(digits)
        }.sorted(by: >)
    }

    /// The newest checkpoint of `directory` that reads completely, skipping broken ones; nil if none.
    public static func latest(in directory: URL) -> Checkpoint? {
        for step in steps(in: directory) {
            if let checkpoint = try? read(directory.appendingPathComponent(directoryName(step: step))) { return checkpoint }
        }
        return nil
    }

    /// Reads one checkpoint directory, checking the tensor file's size against the index.
    public static func read(_ url: URL) throws -> Checkpoint {
        let state: State
        do {
            state = try JSONDecoder().decode(State.self, from: Data(contentsOf: url.appendingPathComponent(stateFile)))
        } catch {
            throw TrainingError.badCheckpoint(path: url.path, reason: "\(stateFile): \(error)")
        }
        guard state.formatVersion == currentFormat else {
            throw TrainingError.badCheckpoint(path: url.path, reason: "format version \(state.formatVersion), expected \(currentFormat)")
        }
        let blob: Data
        do { blob = try Data(contentsOf: url.appendingPathComponent(tensorFile)) } catch {
            throw TrainingError.badCheckpoint(path: url.path, reason: "\(tensorFile): \(ErrorText.file(error))")
        }
        let counts = state.tensors.map { $0.shape.reduce(1, *) }
        guard state.tensors.allSatisfy({ $0.shape.allSatisfy { $0 >= 0 } }), blob.count == counts.reduce(0, +) * 12 else {
            throw TrainingError.badCheckpoint(path: url.path, reason: "\(tensorFile) has \(blob.count) bytes, the index needs \(counts.reduce(0, +) * 12)")
        }
        var values = [String: [Float]](), moments = [String: AdamW.Moments]()
        var offset = 0
        blob.withUnsafeBytes { raw in
            func take(_ n: Int) -> [Float] {
                var out = [Float](repeating: 0, count: n)
                out.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 4 * n)])) }
                offset += 4 * n
                return out
            }
            for (entry, n) in zip(state.tensors, counts) {
                values[entry.name] = take(n)
                moments[entry.name] = AdamW.Moments(exponentialAverage: take(n), exponentialAverageSquared: take(n))
            }
        }
        var checkpoint = Checkpoint(state: state, values: values, moments: moments)
        checkpoint.state = state
        return checkpoint
    }

    init(state: State, values: [String: [Float]], moments: [String: AdamW.Moments]) {
        self.state = state; self.values = values; self.moments = moments
    }

    /// Copies the saved values into the model's trainable parameters and returns the restored optimizer.
    /// Throws if the set of trainable tensors or a shape differs.
    public func restore(into parameters: [(name: String, parameter: Parameter)], path: String) throws -> AdamW {
        let trainable = parameters.filter { $0.parameter.trainable }
        let saved = Set(state.tensors.map(\.name))
        let current = Set(trainable.map(\.name))
        guard saved == current else {
            let missing = current.subtracting(saved).sorted().prefix(3), extra = saved.subtracting(current).sorted().prefix(3)
            throw TrainingError.badCheckpoint(path: path, reason: "trainable tensors differ from the model's (not saved: \(Array(missing)), not in model: \(Array(extra))); same --method and options are needed to resume")
        }
        let shapes = Dictionary(uniqueKeysWithValues: state.tensors.map { ($0.name, $0.shape) })
        var optimizer = AdamW(options: state.optimizer.options)
        optimizer.stepCount = state.optimizer.stepCount
        for (name, parameter) in trainable {
            guard shapes[name] == parameter.value.shape, let value = values[name] else {
                throw TrainingError.badCheckpoint(path: path, reason: "\(name) has shape \(shapes[name] ?? []), the model's is \(parameter.value.shape)")
            }
            parameter.value = try Tensor(shape: parameter.value.shape, data: value)
            optimizer.moments[name] = moments[name]
        }
        return optimizer
    }
}
