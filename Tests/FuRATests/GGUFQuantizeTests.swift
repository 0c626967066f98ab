import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATensor
import FuRATrain
import Testing

/// The GGUF encoders: q4_0 and q8_0 byte for byte as gguf-py's reference quantizers (fixture from
/// scripts/fixtures/gguf_quantize.py), q4_K decoded back within its step by both our decoders, and `fura export
/// --type q4_0|q4_K` reloading with nearly the same logits.
@Suite struct GGUFQuantizeTests {
    struct Fixture: Decodable {
        struct Encoded: Decodable { var hex: String; var dequantized: [Float] }
        var values: [Float]
        var q4_0: Encoded
        var q8_0: Encoded
    }

    static func fixture() throws -> Fixture {
        let url = TestModel.packageRoot.appendingPathComponent("Tests/Fixtures/gguf_quantize.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func decode(_ bytes: [UInt8], _ type: GGMLType, count: Int) throws -> (fast: [Float], reference: [Float]) {
        var fast = [Float](repeating: 0, count: count)
        try bytes.withUnsafeBytes { raw in try fast.withUnsafeMutableBufferPointer { try GGMLDequantize.dequantize(raw, type: type, count: count, into: $0) } }
        let reference = try bytes.withUnsafeBytes { try GGMLDequantize.dequantizeReference($0, type: type, count: count) }
        return (fast, reference)
    }

    @Test func q4_0AndQ8_0MatchTheReferenceQuantizerByteForByte() throws {
        let f = try Self.fixture()
        for (type, expected) in [(GGMLType.q4_0, f.q4_0), (.q8_0, f.q8_0)] {
            var bytes = [UInt8]()
            f.values.withUnsafeBufferPointer { type == .q4_0 ? GGUFQuantize.q4_0($0, to: &bytes) : GGUFQuantize.q8_0($0, to: &bytes) }
            #expect(Self.hex(bytes) == expected.hex, "\(type)")
            let (fast, reference) = try Self.decode(bytes, type, count: f.values.count)
            #expect(fast == expected.dequantized && reference == expected.dequantized, "\(type)")
        }
    }

    @Test func q4_KDecodesWithinItsStep() throws {
        var rng = RNG(seed: 42)
        var values = (0..<(4 * 256)).map { _ in rng.normal() }
        for l in 0..<32 { values[256 + l] = 0; values[288 + l] = 0.75 }  // a zero group and a constant group
        for l in 0..<32 { values[512 + l] *= 1000 }  // one wide group beside narrow ones
        var bytes = [UInt8]()
        values.withUnsafeBufferPointer { GGUFQuantize.q4_K($0, to: &bytes) }
        #expect(bytes.count == 4 * GGMLType.q4_K.blockGeometry.bytes)
        let (fast, reference) = try Self.decode(bytes, .q4_K, count: values.count)
        #expect(fast == reference)
        for l in 0..<32 { #expect(fast[256 + l] == 0) }
        for l in 0..<32 { #expect(abs(fast[288 + l] - 0.75) < 0.75 / 15) }
        // Each group within about one quantization step of its range (range/15, plus the 6-bit rounding of scale and min).
        for group in 0..<(values.count / 32) {
            let x = values[(32 * group)..<(32 * group + 32)]
            let range = max(x.max()!, 0) - min(x.min()!, 0)
            let block = group / 8
            let blockRange = (0..<8).map { g -> Float in
                let y = values[(256 * block + 32 * g)..<(256 * block + 32 * g + 32)]
                return max(y.max()!, 0) - min(y.min()!, 0)
            }.max()!
            let tolerance = range / 15 + blockRange / 15 / 63 * 16 + 1e-6
            for i in x.indices { #expect(abs(fast[i] - values[i]) <= tolerance, "group \(group) element \(i)") }
        }
    }

    @Test func fourBitExportsReloadWithNearlyTheSameLogits() throws {
        let root = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Rows of 256 and 512: every projection takes q4_K; the embedding stays q8_0.
        let config = ModelConfig(hiddenSize: 256, intermediateSize: 512, numHiddenLayers: 1, numAttentionHeads: 4,
                                 numKeyValueHeads: 2, vocabSize: 64)
        let model = try CausalLM.random(config: config, seed: 9)
        let exact = try AdapterFilesTests.logits(model)
        let scale = Double(exact.map { abs($0) }.max() ?? 1)
        for type in [GGMLType.q4_0, .q4_K] {
            let path = root + "/\(type).gguf"
            try GGUFExport.write(model, tokenizer: nil, name: "tiny", type: type, to: path)
            let file = try GGUFFile(path: path)
            #expect(file.tensorInfo(named: "blk.0.attn_q.weight")?.type == type)
            #expect(file.tensorInfo(named: "token_embd.weight")?.type == .q8_0)
            let reloaded = try AdapterFilesTests.logits(try ModelLoader.load(path: path).model)
            let worst = Double(zip(exact, reloaded).map { abs($0 - $1) }.max() ?? 1)
            #expect(worst <= 0.25 * scale, "\(type): logits differ by \(worst) (scale \(scale))")
        }
    }

    @Test func fourBitTypeChoices() {
        #expect(GGUFExport.tensorType(requested: .q4_K, shape: [1536, 576], ggufName: "blk.0.ffn_up.weight") == .q4_0)
        #expect(GGUFExport.tensorType(requested: .q4_K, shape: [576, 1536], ggufName: "blk.0.ffn_down.weight") == .q4_K)
        #expect(GGUFExport.tensorType(requested: .q4_K, shape: [49152, 576], ggufName: "token_embd.weight") == .q8_0)
        #expect(GGUFExport.tensorType(requested: .q4_0, shape: [8, 20], ggufName: "blk.0.attn_q.weight") == .f16)
        #expect(GGUFExport.tensorType(requested: .q4_0, shape: [576], ggufName: "blk.0.attn_norm.weight") == .f32)
    }
}
