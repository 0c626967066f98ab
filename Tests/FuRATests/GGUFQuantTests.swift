import Foundation
import FuRATestSupport
import Testing
import FuRAFormats
import FuRATensor

/// Paths of fixtures and of the optional SmolLM2 model file.
enum FormatFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let smolLM2Path = root.appendingPathComponent("cache/SmolLM2-135M-Instruct.Q4_1.gguf").path
    static var hasSmolLM2: Bool { FileManager.default.fileExists(atPath: smolLM2Path) }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func temporaryDirectory(_ tag: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fura-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func bytes(fromHex hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return out
    }
}

@Suite struct GGUFQuantTests {
    static func f16(_ v: Float) -> [UInt8] {
        let bits = HalfPrecision.float16Bits(from: v)
        return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
    }

    static func fast(_ raw: [UInt8], _ type: GGMLType, _ count: Int) throws -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        try raw.withUnsafeBytes { r in try out.withUnsafeMutableBufferPointer { try GGMLDequantize.dequantize(r, type: type, count: count, into: $0) } }
        return out
    }

    static func reference(_ raw: [UInt8], _ type: GGMLType, _ count: Int) throws -> [Float] {
        try raw.withUnsafeBytes { try GGMLDequantize.dequantizeReference($0, type: type, count: count) }
    }

    @Test func q8_0KnownBlock() throws {
        let block = Self.f16(0.5) + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        let expected = (0..<32).map { Float($0 - 16) * 0.5 }
        #expect(try Self.fast(block, .q8_0, 32) == expected)
        #expect(try Self.reference(block, .q8_0, 32) == expected)
    }

    @Test func q4_0AndQ4_1KnownBlocks() throws {
        // qs[j] holds element j in its low nibble and element j+16 in its high nibble.
        let qs: [UInt8] = (0..<16).map { (i: Int) -> UInt8 in UInt8(i) | (UInt8(15 - i) << 4) }
        let nibbles = (0..<16).map { Float($0) } + (0..<16).map { Float(15 - $0) }
        let q40 = Self.f16(0.25) + qs
        #expect(try Self.fast(q40, .q4_0, 32) == nibbles.map { ($0 - 8) * 0.25 })
        #expect(try Self.reference(q40, .q4_0, 32) == nibbles.map { ($0 - 8) * 0.25 })
        let q41 = Self.f16(0.25) + Self.f16(-1) + qs
        #expect(try Self.fast(q41, .q4_1, 32) == nibbles.map { $0 * 0.25 - 1 })
        #expect(try Self.reference(q41, .q4_1, 32) == nibbles.map { $0 * 0.25 - 1 })
    }

    @Test func q5_0KnownBlock() throws {
        // Element e takes bit e of qh as its 5th bit: set the bits of the odd elements.
        let qh: UInt32 = 0xAAAA_AAAA
        let qs: [UInt8] = (0..<16).map { (i: Int) -> UInt8 in UInt8(i) | (UInt8(i) << 4) }
        let block = Self.f16(2) + withUnsafeBytes(of: qh.littleEndian, Array.init) + qs
        let expected: [Float] = (0..<32).map { (e: Int) -> Float in
            let q: Int = e % 16 + (e % 2 == 1 ? 16 : 0) - 16
            return Float(q) * 2
        }
        #expect(try Self.fast(block, .q5_0, 32) == expected)
        #expect(try Self.reference(block, .q5_0, 32) == expected)
    }

    /// Packs 8 six-bit scales and mins into the 12 bytes of a K-quant block (as llama.cpp's quantizer does).
    static func packScales(_ sc: [UInt8], _ mn: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        for j in 0..<8 {
            if j < 4 {
                out[j] = sc[j]
                out[j + 4] = mn[j]
            } else {
                out[j + 4] = (sc[j] & 0xF) | ((mn[j] & 0xF) << 4)
                out[j - 4] |= (sc[j] >> 4) << 6
                out[j] |= (mn[j] >> 4) << 6
            }
        }
        return out
    }

    @Test func q4_KKnownBlock() throws {
        let sc: [UInt8] = [1, 2, 3, 63, 17, 33, 48, 60], mn: [UInt8] = [0, 5, 9, 63, 16, 31, 47, 62]
        // 4 chunks of 32 bytes: low nibbles are group 2c, high nibbles group 2c+1.
        let qs: [UInt8] = (0..<128).map { (i: Int) -> UInt8 in
            let low = UInt8(i % 16), high = UInt8((i / 3) % 16)
            return low | (high << 4)
        }
        let block = Self.f16(0.5) + Self.f16(0.25) + Self.packScales(sc, mn) + qs
        var expected: [Float] = []
        for g in 0..<8 {
            for l in 0..<32 {
                let byte = qs[(g / 2) * 32 + l]
                let q = g % 2 == 0 ? byte & 0xF : byte >> 4
                expected.append(0.5 * Float(sc[g]) * Float(q) - 0.25 * Float(mn[g]))
            }
        }
        #expect(try Self.fast(block, .q4_K, 256) == expected)
        #expect(try Self.reference(block, .q4_K, 256) == expected)
    }

    @Test func q6_KKnownBlock() throws {
        // All 6-bit values equal 33 (low nibble 1, high bits 2) → q − 32 = 1; the value is d · scale.
        let ql = [UInt8](repeating: 0x11, count: 128)
        let qh = [UInt8](repeating: 0b1010_1010, count: 64)
        let scales: [Int8] = (0..<16).map { Int8($0 - 8) }
        let block = ql + qh + scales.map { UInt8(bitPattern: $0) } + Self.f16(0.125)
        let expected = (0..<256).map { j -> Float in
            let half = j / 128, quarter = (j % 128) / 32, l = j % 32
            return 0.125 * Float(scales[half * 8 + l / 16 + 2 * quarter])
        }
        #expect(try Self.fast(block, .q6_K, 256) == expected)
        #expect(try Self.reference(block, .q6_K, 256) == expected)
    }

    @Test(arguments: [GGMLType.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K])
    func fastPathMatchesScalarReference(type: GGMLType) throws {
        let (per, bytes) = type.blockGeometry
        let blocks = per == 1 ? 300 : 37
        var rng = RNG(seed: UInt64(type.rawValue) + 7)
        var raw = (0..<(blocks * bytes)).map { _ in UInt8(truncatingIfNeeded: Int(rng.uniform() * 256)) }
        // Keep scale fields finite: overwrite them with small f16/f32 values, and floats with normal values.
        for b in 0..<blocks {
            let o = b * bytes
            func put(_ offset: Int) { let h = Self.f16(rng.uniform() * 0.1 - 0.05); raw[o + offset] = h[0]; raw[o + offset + 1] = h[1] }
            switch type {
            case .f32: withUnsafeBytes(of: rng.normal().bitPattern.littleEndian) { for k in 0..<4 { raw[o + k] = $0[k] } }
            case .f16: put(0)
            case .bf16: raw[o + 1] = 0x3F
            case .q8_0, .q4_0, .q5_0: put(0)
            case .q4_1, .q5_1, .q4_K, .q5_K: put(0); put(2)
            case .q6_K: put(208)
            case .q2_K: put(80); put(82)
            case .q3_K: put(108)
            case .q8_K: withUnsafeBytes(of: Float(0.01).bitPattern.littleEndian) { for k in 0..<4 { raw[o + k] = $0[k] } }
            default: break
            }
        }
        let count = blocks * per
        let fast = try Self.fast(raw, type, count), slow = try Self.reference(raw, type, count)
        #expect(fast.allSatisfy { $0.isFinite })
        let maxDiff = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
        #expect(maxDiff <= 1e-6, "\(type): max difference \(maxDiff)")
    }

    @Test func matchesGGUFPythonPackageOnRandomBlocks() throws {
        let fixture = try FormatFixtures.json("gguf_dequant.json")
        let blocks = try #require(fixture["blocks"] as? [String: [String: Any]])
        #expect(blocks.count == 12)
        for (name, entry) in blocks.sorted(by: { $0.key < $1.key }) {
            let code = try #require(entry["type"] as? Int)
            let type = try #require(GGMLType(rawValue: UInt32(code)))
            let raw = FormatFixtures.bytes(fromHex: try #require(entry["hex"] as? String))
            let expected = try #require(entry["values"] as? [Double]).map(Float.init)
            for got in [try Self.fast(raw, type, expected.count), try Self.reference(raw, type, expected.count)] {
                let maxDiff = zip(got, expected).map { abs($0 - $1) }.max() ?? .infinity
                #expect(maxDiff <= 1e-6 * (expected.map(abs).max() ?? 1), "\(name): max difference \(maxDiff)")
            }
        }
    }

    @Test func rejectsPartialBlocksAndShortInput() {
        let raw = [UInt8](repeating: 0, count: 34)
        #expect(throws: TensorError.self) { try Self.fast(raw, .q8_0, 31) }
        #expect(throws: TensorError.self) { try Self.fast(raw, .q8_0, 64) }
        #expect(throws: TensorError.self) { try Self.reference([UInt8](repeating: 0, count: 66), .iq2_xxs, 256) }
    }
}
