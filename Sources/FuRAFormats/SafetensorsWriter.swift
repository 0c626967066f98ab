import Foundation
import FuRATensor

/// Writes tensors as Hugging Face safetensors: one `model.safetensors`, or shards plus `model.safetensors.index.json`.
public enum SafetensorsWriter {
    /// Writes `tensors` (in order) as `dtype` into `directory`, starting a new shard whenever the next tensor
    /// would push a shard past `maxShardBytes` (a tensor larger than that gets a shard of its own).
    ///
    /// One shard is written as `model.safetensors`; several as `model-0000i-of-0000n.safetensors` with an index
    /// (`metadata.total_size`, `weight_map`). Every file is written to a temporary name and renamed.
    public static func write(_ tensors: [(String, Tensor)], dtype: SafetensorsDtype, to directory: String,
                             maxShardBytes: Int = 5_000_000_000, metadata: [String: String] = [:]) throws {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw SafetensorsError.cannotWrite(path: directory, reason: "dtype \(dtype.rawValue) cannot be written (use F32, F16 or BF16)")
        }
        var seen = Set<String>()
        for (name, _) in tensors where !seen.insert(name).inserted {
            throw SafetensorsError.cannotWrite(path: directory, reason: "tensor name '\(name)' appears twice")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SafetensorsError.cannotWrite(path: directory, reason: "cannot create the directory: " + ErrorText.file(error))
        }
        var shards: [[(String, Tensor)]] = [[]]
        var shardBytes = 0
        for (name, tensor) in tensors {
            let bytes = tensor.count * dtype.size
            if !shards[shards.count - 1].isEmpty && shardBytes + bytes > maxShardBytes {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append((name, tensor))
            shardBytes += bytes
        }
        let total = tensors.reduce(0) { $0 + $1.1.count * dtype.size }
        if shards.count == 1 {
            try writeFile(shards[0], dtype: dtype, metadata: metadata, to: directory + "/model.safetensors")
            return
        }
        var weightMap: [String: String] = [:]
        for (i, shard) in shards.enumerated() {
            let name = String(format: "model-%05d-of-%05d.safetensors", i + 1, shards.count)
            try writeFile(shard, dtype: dtype, metadata: metadata, to: directory + "/" + name)
            for (tensorName, _) in shard { weightMap[tensorName] = name }
        }
        let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
        let data = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
        try AtomicWrite.write(data, to: directory + "/model.safetensors.index.json")
    }

    /// Writes one safetensors file: 8-byte header length, the JSON header padded with spaces to 8 bytes, the data.
    public static func writeFile(_ tensors: [(String, Tensor)], dtype: SafetensorsDtype, metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = ["__metadata__": metadata.merging(["format": "pt"]) { old, _ in old }]
        var offset = 0
        for (name, tensor) in tensors {
            let bytes = tensor.count * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, tensor) in tensors {
            tensor.withUnsafeBufferPointer { values in
                switch dtype {
                case .f16:
                    var bits = values.map { HalfPrecision.float16Bits(from: $0).littleEndian }
                    bits.withUnsafeMutableBytes { out.append(contentsOf: $0) }
                case .bf16:
                    var bits = values.map { HalfPrecision.bfloat16Bits(from: $0).littleEndian }
                    bits.withUnsafeMutableBytes { out.append(contentsOf: $0) }
                default:
                    var bits = values.map { $0.bitPattern.littleEndian }
                    bits.withUnsafeMutableBytes { out.append(contentsOf: $0) }
                }
            }
        }
        do {
            try AtomicWrite.write(out, to: path)
        } catch {
            throw SafetensorsError.cannotWrite(path: path, reason: ErrorText.file(error))
        }
    }
}
