import Foundation
import FuRATestSupport
import Testing
import FuRAFormats
import FuRATensor

@Suite struct GGUFWriterTests {
    static let metadata: [(key: String, value: GGUFValue)] = [
        ("general.architecture", .string("llama")),
        ("llama.block_count", .uint32(2)),
        ("llama.rope.freq_base", .float32(10000)),
        ("test.i8", .int8(-3)), ("test.u16", .uint16(65535)), ("test.i16", .int16(-300)), ("test.i32", .int32(-70000)),
        ("test.u64", .uint64(1 << 40)), ("test.i64", .int64(-(1 << 40))), ("test.f64", .float64(0.1)), ("test.bool", .bool(true)),
        ("test.u8", .uint8(200)),
        ("tokenizer.ggml.tokens", .array([.string("a"), .string("ü"), .string("<|im_start|>")])),
        ("test.nested", .array([.array([.int32(1), .int32(2)]), .array([])])),
    ]

    @Test func roundTripKeepsMetadataAndTensors() throws {
        let dir = try FormatFixtures.temporaryDirectory("gguf-writer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.gguf"
        let a = TestSupport.random([3, 64], seed: 1), b = TestSupport.random([5], seed: 2), c = TestSupport.random([2, 2, 32], seed: 3)
        try GGUFWriter().write(metadata: Self.metadata, tensors: [("a", a, .q8_0), ("b", b, .f32), ("c", c, .f16)], to: path)
        let file = try GGUFFile(path: path)
        #expect(file.version == 3)
        #expect(file.metadataKeys == Self.metadata.map(\.key))
        for (key, value) in Self.metadata { #expect(file.metadata[key] == value, "\(key)") }
        #expect(file.tensors.map(\.name) == ["a", "b", "c"])
        #expect(file.tensorInfo(named: "a")?.dimensions == [64, 3])
        #expect(try file.tensor(named: "b") == b)
        let c16 = try file.tensor(named: "c")
        #expect(c16.shape == [2, 2, 32])
        #expect(zip(c16.storage, c.storage).allSatisfy { abs($0 - $1) <= abs($1) * 1e-3 + 1e-7 })
        // Q8_0: each element within half a step of its block scale d = max|x|/127 (plus the f16 rounding of d).
        let a8 = try file.tensor(named: "a")
        #expect(a8.shape == [3, 64])
        for block in 0..<(a.count / 32) {
            let x = a.storage[(block * 32)..<(block * 32 + 32)]
            let d = x.map(abs).max()! / 127
            for i in x.indices { #expect(abs(a8.storage[i] - x[i]) <= d * 0.57 + 1e-7) }
        }
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"))
    }

    @Test func customAlignmentIsWrittenAndHonoured() throws {
        let dir = try FormatFixtures.temporaryDirectory("gguf-align")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/m.gguf"
        let t = [TestSupport.random([7], seed: 4), TestSupport.random([9], seed: 5)]
        try GGUFWriter(alignment: 64).write(metadata: [], tensors: [("x", t[0], .f32), ("y", t[1], .f32)], to: path)
        let file = try GGUFFile(path: path)
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0)
        #expect(file.tensors.allSatisfy { $0.offset % 64 == 0 })
        #expect(try file.tensor(named: "y") == t[1])
    }

    @Test func refusesUnwritableTypesAndPartialBlocks() throws {
        let dir = try FormatFixtures.temporaryDirectory("gguf-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: GGUFError.self) { try GGUFWriter().write(metadata: [], tensors: [("x", .zeros([4, 31]), .q8_0)], to: dir + "/a.gguf") }
        #expect(throws: GGUFError.self) { try GGUFWriter().write(metadata: [], tensors: [("x", .zeros([32]), .q4_K)], to: dir + "/b.gguf") }
        #expect(throws: GGUFError.self) { try GGUFWriter().write(metadata: [("k", .array([.int8(1), .string("x")]))], tensors: [], to: dir + "/c.gguf") }
    }
}
