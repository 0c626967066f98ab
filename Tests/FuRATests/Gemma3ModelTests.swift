import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor
import Testing

/// Gemma-3-270M (base, GGUF Q4_K_M; `scripts/setup.sh gemma3-270m`, or FURA_TEST_GEMMA3) against transformers
/// reading the same file (`Tests/Fixtures/gemma3_270m.json`, from `scripts/fixtures/gemma3_gguf.py`).
/// Skipped when the file is absent.
enum Gemma3Model {
    static var path: String? {
        let candidate = ProcessInfo.processInfo.environment["FURA_TEST_GEMMA3"]
            ?? TestModel.packageRoot.appendingPathComponent("cache/gemma-3-270m-q4_k_m.gguf").path
        return FileManager.default.fileExists(atPath: candidate) ? candidate : nil
    }
    static var available: Bool { path != nil }
    nonisolated(unsafe) static var cached: LoadedModel?
    static let lock = NSLock()

    static func load() throws -> LoadedModel {
        lock.lock(); defer { lock.unlock() }
        if let c = cached { return c }
        let loaded = try ModelLoader.load(path: path!)
        cached = loaded
        return loaded
    }

    struct Fixture: Decodable {
        struct Text: Decodable { var text: String; var ids: [Int]; var token_logprobs: [Double] }
        struct Greedy: Decodable { var prompt: String; var ids: [Int]; var greedy: [Int]; var text: String }
        var texts: [Text]
        var greedy: [Greedy]
    }

    static func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: TestModel.packageRoot.appendingPathComponent("Tests/Fixtures/gemma3_270m.json")))
    }
}

@Suite(.serialized) struct Gemma3ModelTests {
    @Test(.enabled(if: Gemma3Model.available)) func configFromGGUFMetadata() throws {
        let c = try Gemma3Model.load().config
        #expect(c.family == .gemma3 && c.hiddenSize == 640 && c.numHiddenLayers == 18 && c.headDim == 256)
        #expect(c.slidingWindow == 512 && c.tieWordEmbeddings)
        #expect((0..<18).filter { !c.usesSlidingWindow(layer: $0) } == [5, 11, 17])
        #expect(c.ropeTheta(layer: 0) == 10000 && c.ropeTheta(layer: 5) == 1_000_000)
    }

    @Test(.enabled(if: Gemma3Model.available)) func tokenizerMatchesTransformers() throws {
        let tokenizer = try #require(try Gemma3Model.load().tokenizer)
        for t in try Gemma3Model.fixture().texts {
            #expect(tokenizer.encode(t.text, addBOS: tokenizer.addsBOSByDefault) == t.ids, "\(t.text.prefix(40))")
            #expect(tokenizer.decode(t.ids, skipSpecial: true) == t.text)
        }
        for g in try Gemma3Model.fixture().greedy { #expect(tokenizer.decode(g.greedy) == g.text) }
    }

    /// The tokenizer.json that `fura merge` writes for this vocabulary encodes the texts alike when read back.
    @Test(.enabled(if: Gemma3Model.available)) func tokenizerJSONFromGGUFEncodesAlike() throws {
        let gguf = try #require(try Gemma3Model.load().gguf)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fura-gemma-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let (json, config) = try TokenizerJSONExport.files(ggufMetadata: gguf.metadata, source: gguf.path)
        try json.write(to: root.appendingPathComponent("tokenizer.json"))
        try config.write(to: root.appendingPathComponent("tokenizer_config.json"))
        let rebuilt = try Tokenizer(tokenizerJSON: root.appendingPathComponent("tokenizer.json").path,
                                    tokenizerConfig: root.appendingPathComponent("tokenizer_config.json").path)
        for t in try Gemma3Model.fixture().texts {
            #expect(rebuilt.encode(t.text, addBOS: rebuilt.addsBOSByDefault) == t.ids, "\(t.text.prefix(40))")
            #expect(rebuilt.decode(t.ids, skipSpecial: true) == t.text)
        }
    }

    @Test(.enabled(if: Gemma3Model.available)) func logProbabilitiesMatchTransformers() throws {
        let model = try Gemma3Model.load().model
        Threading.setThreadCount(2)
        var worst = 0.0
        for t in try Gemma3Model.fixture().texts {
            let batch = TokenBatch.padded(sequences: [t.ids], targets: [Array(t.ids.dropFirst()) + [TokenBatch.ignoreIndex]], padId: 0)
            let got = try model.labelLogProbabilities(batch)[0]
            for (i, expected) in t.token_logprobs.enumerated() { worst = max(worst, abs(Double(got[i]) - expected)) }
        }
        print("gemma3-270m: max |Δ log p| vs transformers = \(worst)")
        #expect(worst < 1e-4, "max |Δ log p| = \(worst)")
    }

    @Test(.enabled(if: Gemma3Model.available)) func greedyContinuationMatchesTransformers() throws {
        let engine = try GenerationModel(model: try Gemma3Model.load().model)
        for g in try Gemma3Model.fixture().greedy {
            let cache = try engine.makeCache(slots: 1, capacity: g.ids.count + g.greedy.count)
            var logits = try engine.step(cache: cache, slots: [0], tokens: [g.ids])
            var out: [Int] = []
            for _ in g.greedy.indices {
                let next = try logits.argmaxLastDimension()[0]
                out.append(next)
                logits = try engine.step(cache: cache, slots: [0], tokens: [[next]])
            }
            #expect(out == g.greedy, "\(g.prompt)")
        }
    }
}
