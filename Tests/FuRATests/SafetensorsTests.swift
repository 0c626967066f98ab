import Foundation
import FuRATestSupport
import Testing
import FuRAFormats
import FuRATensor

@Suite struct SafetensorsTests {
    static func write(_ bytes: [UInt8], _ dir: String, _ name: String = "f.safetensors") throws -> String {
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A file with header `json` (unpadded) followed by `data` zero bytes; `length` overrides the header length.
    static func file(json: String, data: Int, length: UInt64? = nil) -> [UInt8] {
        let header = Array(json.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(header.count)).littleEndian) { out += $0 }
        return out + header + [UInt8](repeating: 0, count: data)
    }

    @Test func readsAFileWrittenByTheReferenceLibrary() throws {
        let file = try SafetensorsFile(path: FormatFixtures.directory.appendingPathComponent("reference.safetensors").path)
        let expected = try FormatFixtures.json("reference_safetensors.json")
        #expect(file.tensorNames == ["a", "b", "c"])
        #expect(file.metadata["note"] == "fixture")
        #expect(file.infos["c"]?.dtype == .bf16 && file.infos["b"]?.dtype == .f16)
        for name in ["a", "b", "c"] {
            let entry = try #require(expected[name] as? [String: Any])
            let t = try file.tensor(named: name)
            #expect(t.shape == (entry["shape"] as? [Int]))
            #expect(t.storage == (try #require(entry["values"] as? [Double])).map(Float.init), "\(name)")
        }
    }

    @Test(arguments: [SafetensorsDtype.f32, .f16, .bf16]) func singleFileRoundTrip(dtype: SafetensorsDtype) throws {
        let dir = try FormatFixtures.temporaryDirectory("st-single")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tensors = [("w", TestSupport.random([4, 6], seed: 1)), ("b", TestSupport.random([6], seed: 2)), ("s", Tensor.zeros([]))]
        try SafetensorsWriter.write(tensors, dtype: dtype, to: dir, metadata: ["k": "v"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
        let store = try SafetensorsStore(directory: dir)
        #expect(store.tensorNames == ["b", "s", "w"])
        #expect(store.metadata == ["format": "pt", "k": "v"])
        for (name, t) in tensors {
            let back = try store.tensor(named: name)
            #expect(back.shape == t.shape)
            let rounded: [Float] = t.storage.map {
                switch dtype {
                case .f16: return HalfPrecision.float(fromFloat16Bits: HalfPrecision.float16Bits(from: $0))
                case .bf16: return HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: $0))
                default: return $0
                }
            }
            #expect(back.storage == rounded, "\(name)")
        }
    }

    @Test func shardedRoundTripWritesAnIndex() throws {
        let dir = try FormatFixtures.temporaryDirectory("st-sharded")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tensors = (0..<5).map { ("layer.\($0).weight", TestSupport.random([8, 8], seed: UInt64($0))) }
        try SafetensorsWriter.write(tensors, dtype: .f32, to: dir, maxShardBytes: 600)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names == ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json"])
        let index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))) as? [String: Any])
        #expect((index["metadata"] as? [String: Any])?["total_size"] as? Int == 5 * 64 * 4)
        let store = try SafetensorsStore(directory: dir)
        #expect(store.files.count == 3)
        for (name, t) in tensors { #expect(try store.tensor(named: name) == t) }
        #expect(throws: SafetensorsError.tensorNotFound(path: dir, tensor: "nope")) { try store.tensor(named: "nope") }
    }

    @Test func corruptFilesGiveTypedErrors() throws {
        let dir = try FormatFixtures.temporaryDirectory("st-corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func expectError(_ bytes: [UInt8], _ comment: Comment, _ matches: (SafetensorsError) -> Bool) throws {
            let path = try Self.write(bytes, dir)
            do {
                _ = try SafetensorsFile(path: path)
                Issue.record("expected an error: \(comment)")
            } catch let error as SafetensorsError {
                #expect(matches(error), "\(comment): got \(error)")
            }
        }
        let good = #"{"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
        try expectError([1, 2, 3], "three bytes") { if case .tooSmall = $0 { return true }; return false }
        try expectError(Self.file(json: good, data: 16, length: UInt64.max), "absurd header length") { if case .headerTooLarge = $0 { return true }; return false }
        try expectError(Self.file(json: good, data: 0, length: 1000), "header longer than the file") { if case .headerTooLarge = $0 { return true }; return false }
        try expectError(Self.file(json: "{not json", data: 0), "bad JSON") { if case .invalidHeader = $0 { return true }; return false }
        try expectError(Self.file(json: "[1,2]", data: 0), "not an object") { if case .invalidHeader = $0 { return true }; return false }
        try expectError(Self.file(json: good, data: 8), "data past the end") { if case .invalidTensor = $0 { return true }; return false }
        try expectError(Self.file(json: #"{"t":{"dtype":"F16","shape":[2,2],"data_offsets":[0,16]}}"#, data: 16), "dtype size mismatch") { if case .invalidTensor = $0 { return true }; return false }
        try expectError(Self.file(json: #"{"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}}"#, data: 2), "unknown dtype") { if case .invalidTensor = $0 { return true }; return false }
        try expectError(Self.file(json: #"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: 4), "negative extent") { if case .invalidTensor = $0 { return true }; return false }
        try expectError(Self.file(json: #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, data: 16), "overflowing shape") { if case .invalidTensor = $0 { return true }; return false }
        try expectError(Self.file(json: #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: 16), "reversed offsets") { if case .invalidTensor = $0 { return true }; return false }
        try expectError(Self.file(json: #"{"__metadata__":{"a":1}}"#, data: 0), "non-string metadata") { if case .invalidHeader = $0 { return true }; return false }
        let overlapping = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        try expectError(Self.file(json: overlapping, data: 12), "overlapping tensors") {
            if case let .invalidTensor(_, tensor, reason) = $0 { return tensor == "b" && reason.contains("overlap those of 'a'") }; return false
        }
        // Empty tensors share an offset with their neighbours without overlapping them.
        let touching = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        #expect(try SafetensorsFile(path: try Self.write(Self.file(json: touching, data: 12), dir, "touching.safetensors")).infos.count == 3)
        // Readable but unsupported element type.
        let path = try Self.write(Self.file(json: #"{"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: 8), dir, "i64.safetensors")
        #expect(throws: SafetensorsError.unsupportedDtype(path: path, tensor: "t", dtype: "I64")) { try SafetensorsFile(path: path).tensor(named: "t") }
        #expect(throws: FileError.self) { try SafetensorsFile(path: dir + "/missing.safetensors") }
    }

    @Test func badDirectoriesAndIndexesGiveTypedErrors() throws {
        let dir = try FormatFixtures.temporaryDirectory("st-index")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: SafetensorsError.missingModelFiles(directory: dir)) { try SafetensorsStore(directory: dir) }
        try SafetensorsWriter.writeFile([("a", Tensor.zeros([2]))], dtype: .f32, to: dir + "/shard.safetensors")
        let index = #"{"metadata":{},"weight_map":{"a":"shard.safetensors","b":"shard.safetensors"}}"#
        try Data(index.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        #expect(throws: SafetensorsError.self) { try SafetensorsStore(directory: dir) }
        try Data(#"{"weight_map":{"a":"../x.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        #expect(throws: SafetensorsError.self) { try SafetensorsStore(directory: dir) }
    }
}
