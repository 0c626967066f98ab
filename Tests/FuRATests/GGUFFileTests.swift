import Foundation
import Testing
import FuRAFormats
import FuRATensor

@Suite struct GGUFFileTests {
    /// A little-endian byte builder for hand-made (and deliberately broken) GGUF headers.
    struct Bytes {
        var data: [UInt8] = []
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
        mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); data += Array(s.utf8) }
        mutating func header(version: UInt32 = 3, tensors: UInt64, keys: UInt64) { u32(GGUFFile.magic); u32(version); u64(tensors); u64(keys) }
    }

    static func open(_ bytes: [UInt8]) throws -> GGUFFile {
        let dir = try FormatFixtures.temporaryDirectory("gguf-read")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f.gguf"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try GGUFFile(path: path)
    }

    static func expectError(_ bytes: [UInt8], _ matches: (GGUFError) -> Bool, _ comment: Comment) {
        do {
            _ = try open(bytes)
            Issue.record("expected an error: \(comment)")
        } catch let error as GGUFError {
            #expect(matches(error), "\(comment): got \(error)")
        } catch {
            Issue.record("\(comment): unexpected error \(error)")
        }
    }

    @Test func readsAHandBuiltFileWithOneTensor() throws {
        var b = Bytes()
        b.header(tensors: 1, keys: 2)
        b.string("general.architecture"); b.u32(8); b.string("llama")
        b.string("list"); b.u32(9); b.u32(4); b.u64(3); b.u32(7); b.u32(8); b.u32(9)
        b.string("w"); b.u32(2); b.u64(2); b.u64(3); b.u32(0); b.u64(0)
        while b.data.count % 32 != 0 { b.data.append(0) }
        for v: Float in [1, 2, 3, 4, 5, 6] { b.u32(v.bitPattern) }
        let file = try Self.open(b.data)
        #expect(file.metadata["general.architecture"]?.asString == "llama")
        #expect(file.metadata["list"]?.asIntArray == [7, 8, 9])
        let w = try file.tensor(named: "w")
        #expect(w.shape == [3, 2] && w.storage == [1, 2, 3, 4, 5, 6])
        #expect(throws: GGUFError.tensorNotFound(path: file.path, tensor: "nope")) { try file.tensor(named: "nope") }
    }

    @Test func corruptHeadersGiveTypedErrors() throws {
        Self.expectError(Array("GGML1234".utf8) + [UInt8](repeating: 0, count: 32), { if case .badMagic = $0 { return true }; return false }, "bad magic")
        Self.expectError([0x47, 0x47], { if case .truncated = $0 { return true }; return false }, "two bytes")
        var v1 = Bytes(); v1.header(version: 1, tensors: 0, keys: 0)
        Self.expectError(v1.data, { if case .unsupportedVersion(_, 1) = $0 { return true }; return false }, "version 1")
        var keys = Bytes(); keys.header(tensors: 0, keys: UInt64.max)
        Self.expectError(keys.data, { if case .implausibleCount = $0 { return true }; return false }, "absurd key count")
        var tensors = Bytes(); tensors.header(tensors: 1 << 50, keys: 0)
        Self.expectError(tensors.data, { if case .implausibleCount = $0 { return true }; return false }, "absurd tensor count")
        var longString = Bytes(); longString.header(tensors: 0, keys: 1); longString.u64(1 << 40); longString.data += [1, 2, 3]
        Self.expectError(longString.data, { if case .implausibleCount = $0 { return true }; return false }, "string longer than the file")
        var bigArray = Bytes(); bigArray.header(tensors: 0, keys: 1); bigArray.string("a"); bigArray.u32(9); bigArray.u32(8); bigArray.u64(1 << 33)
        Self.expectError(bigArray.data, { if case .implausibleCount = $0 { return true }; return false }, "array longer than the file")
        var badType = Bytes(); badType.header(tensors: 0, keys: 1); badType.string("k"); badType.u32(13); badType.u32(0)
        Self.expectError(badType.data, { if case .unknownValueType(_, "k", 13) = $0 { return true }; return false }, "value type 13")
        var deep = Bytes(); deep.header(tensors: 0, keys: 1); deep.string("d"); deep.u32(9)
        for _ in 0..<20 { deep.u32(9); deep.u64(1) }
        deep.data += [UInt8](repeating: 0, count: 64)
        Self.expectError(deep.data, { if case .implausibleCount = $0 { return true }; return false }, "nesting too deep")
        var dup = Bytes(); dup.header(tensors: 0, keys: 2); dup.string("k"); dup.u32(0); dup.data.append(1); dup.string("k"); dup.u32(0); dup.data.append(2)
        Self.expectError(dup.data, { if case .duplicateKey = $0 { return true }; return false }, "duplicate key")
    }

    @Test func corruptTensorDirectoriesGiveTypedErrors() throws {
        func file(dims: [UInt64], type: UInt32, offset: UInt64, dataBytes: Int, alignment: UInt32? = nil) -> [UInt8] {
            var b = Bytes()
            b.header(tensors: 1, keys: alignment == nil ? 0 : 1)
            if let alignment { b.string("general.alignment"); b.u32(4); b.u32(alignment) }
            b.string("t"); b.u32(UInt32(dims.count)); for d in dims { b.u64(d) }; b.u32(type); b.u64(offset)
            while b.data.count % 32 != 0 { b.data.append(0) }
            b.data += [UInt8](repeating: 0, count: dataBytes)
            return b.data
        }
        Self.expectError(file(dims: [64], type: 0, offset: 0, dataBytes: 100), { if case .invalidTensor = $0 { return true }; return false }, "data past the end")
        Self.expectError(file(dims: [4], type: 0, offset: 1 << 40, dataBytes: 16), { if case .invalidTensor = $0 { return true }; return false }, "offset past the end")
        Self.expectError(file(dims: [4], type: 0, offset: 4, dataBytes: 64), { if case .invalidTensor = $0 { return true }; return false }, "misaligned offset")
        Self.expectError(file(dims: [33], type: 8, offset: 0, dataBytes: 128), { if case .invalidTensor = $0 { return true }; return false }, "partial q8_0 block")
        Self.expectError(file(dims: [4], type: 99, offset: 0, dataBytes: 16), { if case .unknownTensorType(_, "t", 99) = $0 { return true }; return false }, "unknown type")
        Self.expectError(file(dims: [1 << 62, 1 << 62], type: 0, offset: 0, dataBytes: 16), { if case .implausibleCount = $0 { return true }; return false }, "overflowing dims")
        Self.expectError(file(dims: [], type: 0, offset: 0, dataBytes: 16), { if case .invalidTensor = $0 { return true }; return false }, "rank 0")
        Self.expectError(file(dims: [4], type: 0, offset: 0, dataBytes: 16, alignment: 3), { if case .invalidAlignment = $0 { return true }; return false }, "alignment 3")
        #expect(throws: FileError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
    }

    @Test(.enabled(if: FormatFixtures.hasSmolLM2)) func readsSmolLM2() throws {
        let file = try GGUFFile(path: FormatFixtures.smolLM2Path)
        #expect(file.version == 3)
        #expect(file.tensors.count == 272)
        #expect(file.metadata["general.architecture"]?.asString == "llama")
        #expect(file.metadata["llama.embedding_length"]?.asInt == 576)
        #expect(file.metadata["llama.attention.head_count_kv"]?.asInt == 3)
        #expect(file.metadata["llama.rope.freq_base"]?.asDouble == 100000)
        #expect(file.metadata["tokenizer.ggml.tokens"]?.asStringArray?.count == 49152)
        #expect(file.metadata["tokenizer.ggml.pre"]?.asString == "smollm")
        #expect(file.tensorInfo(named: "token_embd.weight")?.dimensions == [576, 49152])
        let fixture = try FormatFixtures.json("gguf_dequant.json")
        let entries = try #require(fixture["smollm2"] as? [[String: Any]])
        #expect(Set(entries.compactMap { $0["type"] as? Int }) == [0, 3, 8])
        for entry in entries {
            let name = try #require(entry["name"] as? String)
            let tensor = try file.tensor(named: name)
            #expect(tensor.shape == (entry["shape"] as? [Int]), "\(name)")
            let head = try #require(entry["head"] as? [Double]).map(Float.init)
            let start = try #require(entry["middle_start"] as? Int)
            let middle = try #require(entry["middle"] as? [Double]).map(Float.init)
            #expect(Array(tensor.storage.prefix(head.count)) == head, "\(name) head")
            #expect(Array(tensor.storage[start..<(start + middle.count)]) == middle, "\(name) middle")
            let info = try #require(file.tensorInfo(named: name))
            let reference = try GGMLDequantize.dequantizeReference(file.rawBytes(of: info), type: info.type, count: min(info.elementCount, 4096))
            #expect(Array(tensor.storage.prefix(reference.count)) == reference, "\(name) reference")
        }
    }
}
