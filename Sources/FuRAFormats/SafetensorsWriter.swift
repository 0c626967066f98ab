import Foundation
import FuRATensor

/// Writes tensors as Hugging Face safetensors: one `model.safetensors`, or shards plus `model.safetensors.index.json`.
public enum SafetensorsWriter {
    /// Produces the values of tensor (name, shape) by passing them, in row-major order, to the emit function in one
    /// or more chunks.
    public typealias Producer = (_ name: String, _ shape: [Int], _ emit: (UnsafeBufferPointer<Float>) throws -> Void) throws -> Void

    /// Writes `tensors` (in order) as `dtype` into `directory`, starting a new shard whenever the next tensor
    /// would push a shard past `maxShardBytes` (a tensor larger than that gets a shard of its own).
    ///
    /// One shard is written as `model.safetensors`; several as `model-0000i-of-0000n.safetensors` with an index
    /// (`metadata.total_size`, `weight_map`). Every file is written to a temporary name and renamed.
    public static func write(_ tensors: [(String, Tensor)], dtype: SafetensorsDtype, to directory: String,
                             maxShardBytes: Int = 5_000_000_000, metadata: [String: String] = [:]) throws {
        let byName = Dictionary(tensors.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        try write(entries: tensors.map { ($0.0, $0.1.shape) }, dtype: dtype, to: directory, maxShardBytes: maxShardBytes,
                  metadata: metadata) { name, _, emit in
            try byName[name]!.withUnsafeBufferPointer { try emit($0) }
        }
    }

    /// The same with the values made on demand by `produce`, one tensor at a time, straight into the files: a model
    /// of any size is written in the memory of its largest chunk.
    public static func write(entries: [(name: String, shape: [Int])], dtype: SafetensorsDtype, to directory: String,
                             maxShardBytes: Int = 5_000_000_000, metadata: [String: String] = [:], produce: Producer) throws {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw SafetensorsError.cannotWrite(path: directory, reason: "dtype \(dtype.rawValue) cannot be written (use F32, F16 or BF16)")
        }
        var seen = Set<String>()
        for (name, _) in entries where !seen.insert(name).inserted {
            throw SafetensorsError.cannotWrite(path: directory, reason: "tensor name '\(name)' appears twice")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SafetensorsError.cannotWrite(path: directory, reason: "cannot create the directory: " + ErrorText.file(error))
        }
        func bytes(_ shape: [Int]) -> Int { shape.reduce(1, *) * dtype.size }
        var shards: [[(name: String, shape: [Int])]] = [[]]
        var shardBytes = 0
        for entry in entries {
            if !shards[shards.count - 1].isEmpty && shardBytes + bytes(entry.shape) > maxShardBytes {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append(entry)
            shardBytes += bytes(entry.shape)
        }
        if shards.count == 1 {
            try writeFile(entries: shards[0], dtype: dtype, metadata: metadata, to: directory + "/model.safetensors", produce: produce)
            return
        }
        var weightMap: [String: String] = [:]
        for (i, shard) in shards.enumerated() {
            let name = String(format: "model-%05d-of-%05d.safetensors", i + 1, shards.count)
            try writeFile(entries: shard, dtype: dtype, metadata: metadata, to: directory + "/" + name, produce: produce)
            for entry in shard { weightMap[entry.name] = name }
        }
        let index: [String: Any] = ["metadata": ["total_size": entries.reduce(0) { $0 + bytes($1.shape) }], "weight_map": weightMap]
        let data = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
        try AtomicWrite.write(data, to: directory + "/model.safetensors.index.json")
    }

    /// Writes one safetensors file: 8-byte header length, the JSON header padded with spaces to 8 bytes, the data.
    public static func writeFile(_ tensors: [(String, Tensor)], dtype: SafetensorsDtype, metadata: [String: String] = [:], to path: String) throws {
        let byName = Dictionary(tensors.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        try writeFile(entries: tensors.map { ($0.0, $0.1.shape) }, dtype: dtype, metadata: metadata, to: path) { name, _, emit in
            try byName[name]!.withUnsafeBufferPointer { try emit($0) }
        }
    }

    static func writeFile(entries: [(name: String, shape: [Int])], dtype: SafetensorsDtype, metadata: [String: String],
                          to path: String, produce: Producer) throws {
        var header: [String: Any] = ["__metadata__": metadata.merging(["format": "pt"]) { old, _ in old }]
        var offset = 0
        for (name, shape) in entries {
            let bytes = shape.reduce(1, *) * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        do {
            try AtomicWrite.stream(to: path) { handle in
                var head = Data()
                withUnsafeBytes(of: UInt64(json.count).littleEndian) { head.append(contentsOf: $0) }
                head.append(json)
                try handle.write(contentsOf: head)
                for (name, shape) in entries {
                    var written = 0
                    try produce(name, shape) { values in
                        written += values.count
                        try handle.write(contentsOf: encode(values, as: dtype))
                    }
                    guard written == shape.reduce(1, *) else {
                        throw SafetensorsError.cannotWrite(path: path, reason: "tensor '\(name)' produced \(written) values for shape \(shape)")
                    }
                }
            }
        } catch let error as SafetensorsError {
            throw error
        } catch {
            throw SafetensorsError.cannotWrite(path: path, reason: ErrorText.file(error))
        }
    }

    /// Little-endian bytes of `values` as `dtype` (f16/bf16 rounded to nearest even).
    static func encode(_ values: UnsafeBufferPointer<Float>, as dtype: SafetensorsDtype) -> Data {
        switch dtype {
        case .f16:
            var bits = values.map { HalfPrecision.float16Bits(from: $0).littleEndian }
            return bits.withUnsafeMutableBytes { Data($0) }
        case .bf16:
            var bits = values.map { HalfPrecision.bfloat16Bits(from: $0).littleEndian }
            return bits.withUnsafeMutableBytes { Data($0) }
        default:
            var bits = values.map { $0.bitPattern.littleEndian }
            return bits.withUnsafeMutableBytes { Data($0) }
        }
    }
}
