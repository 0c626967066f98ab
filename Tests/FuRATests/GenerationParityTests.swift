import Foundation
import FuRAFormats
import FuRAModels
import FuRATrain
import Testing

/// Greedy and 4-beam continuations of SmolLM2 chat prompts against transformers
/// (fixture from scripts/fixtures/smollm2_generation.py). Skipped without the model file.
@Suite(.enabled(if: TestModel.available, "needs cache/SmolLM2-135M-Instruct.Q4_1.gguf or FURA_TEST_MODEL"))
struct GenerationParityTests {
    struct Fixture: Decodable {
        struct Prompt: Decodable {
            var message: String; var prompt_text: String; var prompt_ids: [Int]; var greedy_ids: [Int]; var beam4_ids: [Int]?
        }
        var eos_token_ids: [Int]
        var prompts: [Prompt]
    }

    static func fixture() throws -> Fixture {
        let url = TestModel.packageRoot.appendingPathComponent("Tests/Fixtures/smollm2_generation.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    @Test func chatPromptsEncodeLikeTransformers() throws {
        let fixture = try Self.fixture()
        let tokenizer = try #require(try TestModel.smolLM2().tokenizer)
        let template = try #require(tokenizer.chatTemplate)
        for p in fixture.prompts {
            let text = template.render([ChatMessage(role: "user", content: p.message)], addGenerationPrompt: true)
            #expect(text == p.prompt_text)
            #expect(tokenizer.encode(text) == p.prompt_ids)
        }
    }

    @Test func greedyBatchedMatchesTransformersTokenForToken() throws {
        let fixture = try Self.fixture()
        let engine = try GenerationModel(model: try TestModel.smolLM2().model)
        let options = GenerationOptions(maxNewTokens: 30, eosTokenIds: Set(fixture.eos_token_ids))
        // All prompts in one batch (different lengths): each must equal transformers' single-prompt greedy run.
        let results = try Generator(model: engine).generate(prompts: fixture.prompts.map(\.prompt_ids), options: options)
        for (p, r) in zip(fixture.prompts, results) {
            #expect(r.ids == p.greedy_ids, "\(p.message)")
        }
    }

    /// The GGUF file's own Q4_1/Q8_0 blocks hold exactly the model's weights: every matrix comes from
    /// them, and greedy decoding still matches transformers token for token.
    @Test func ggufBlocksGreedyMatchesTransformers() throws {
        let fixture = try Self.fixture()
        let loaded = try TestModel.smolLM2()
        let engine = try GenerationModel(model: loaded.model, precision: .gguf, gguf: loaded.gguf)
        #expect(engine.weightSummary.contains("\(4 * loaded.config.numHiddenLayers + 1) matrices from the file's blocks"), "\(engine.weightSummary)")
        #expect(!engine.weightSummary.contains("in f32"), "\(engine.weightSummary)")
        let options = GenerationOptions(maxNewTokens: 30, eosTokenIds: Set(fixture.eos_token_ids))
        let results = try Generator(model: engine).generate(prompts: fixture.prompts.map(\.prompt_ids), options: options)
        for (p, r) in zip(fixture.prompts, results) {
            #expect(r.ids == p.greedy_ids, "\(p.message)")
        }
    }

    /// `fura export`'s 4-bit files (Q4_0 and Q4_K blocks, Q8_0 head): `--precision gguf` takes every matrix from the
    /// file's blocks and greedy decoding equals the f32 engine's on the same (exported) weights.
    @Test(arguments: [GGMLType.q4_0, .q4_K])
    func ggufBlocksOfExportsGreedyMatchF32(type: GGMLType) throws {
        let fixture = try Self.fixture()
        let root = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try GGUFExport.write(try TestModel.smolLM2().model, tokenizer: nil, name: "SmolLM2", type: type, to: root + "/export.gguf")
        let loaded = try ModelLoader.load(path: root + "/export.gguf")
        let blocks = try GenerationModel(model: loaded.model, precision: .gguf, gguf: loaded.gguf)
        #expect(blocks.weightSummary.contains("\(4 * loaded.config.numHiddenLayers + 1) matrices from the file's blocks"), "\(blocks.weightSummary)")
        #expect(!blocks.weightSummary.contains("in f32"), "\(blocks.weightSummary)")
        let options = GenerationOptions(maxNewTokens: 24, eosTokenIds: Set(fixture.eos_token_ids))
        let prompts = fixture.prompts.map(\.prompt_ids)
        let fromBlocks = try Generator(model: blocks).generate(prompts: prompts, options: options)
        let f32 = try Generator(model: try GenerationModel(model: loaded.model)).generate(prompts: prompts, options: options)
        #expect(fromBlocks.map(\.ids) == f32.map(\.ids))
    }

    @Test func fourBeamsMatchTransformers() throws {
        let fixture = try Self.fixture()
        let engine = try GenerationModel(model: try TestModel.smolLM2().model)
        let search = try BeamSearch(model: engine, beams: 4)
        for p in fixture.prompts {
            guard let expected = p.beam4_ids else { continue }
            let best = try search.search(prompt: p.prompt_ids, maxNewTokens: 20, eosTokenIds: Set(fixture.eos_token_ids))
            #expect(best.first?.ids == expected, "\(p.message)")
        }
    }

    /// bf16 compute stays close to f32: teacher-forced on transformers' greedy continuations, the
    /// log-probabilities of the continuation tokens differ by little and the f32 argmax mostly stays the argmax.
    @Test func bf16ComputeStaysCloseToF32() throws {
        let fixture = try Self.fixture()
        let loaded = try TestModel.smolLM2()
        let f32 = try GenerationModel(model: loaded.model), bf16 = try GenerationModel(model: loaded.model, precision: .bfloat16Compute)
        let v = loaded.config.vocabSize
        var worst: Float = 0, agree = 0, total = 0
        for p in fixture.prompts {
            let ids = p.prompt_ids + p.greedy_ids
            let a = try f32.makeCache(slots: 1, capacity: ids.count), b = try bf16.makeCache(slots: 1, capacity: ids.count)
            let x = try f32.step(cache: a, slots: [0], tokens: [ids], allPositions: true)
            let y = try bf16.step(cache: b, slots: [0], tokens: [ids], allPositions: true)
            for t in (p.prompt_ids.count - 1)..<(ids.count - 1) {
                let rowX = Array(x.storage[(t * v)..<((t + 1) * v)]), rowY = Array(y.storage[(t * v)..<((t + 1) * v)])
                let (lx, ly) = (Self.logSoftmax(rowX), Self.logSoftmax(rowY))
                worst = max(worst, abs(lx[ids[t + 1]] - ly[ids[t + 1]]))
                if rowY.indices.max(by: { rowY[$0] < rowY[$1] }) == rowX.indices.max(by: { rowX[$0] < rowX[$1] }) { agree += 1 }
                total += 1
            }
        }
        print("bf16-compute vs f32: max |Δ log p| \(worst), argmax agreement \(agree)/\(total)")
        #expect(worst > 0 && worst < 0.15)
        #expect(Double(agree) >= 0.9 * Double(total))
    }

    static func logSoftmax(_ row: [Float]) -> [Float] {
        let m = row.max() ?? 0
        let lse = m + Float(log(row.reduce(0.0) { $0 + exp(Double($1 - m)) }))
        return row.map { $0 - lse }
    }
}
