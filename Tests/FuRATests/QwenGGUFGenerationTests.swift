import Foundation
import FuRAFormats
import FuRAModels
import Testing

/// Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M: Q4_K and Q6_K blocks; `scripts/setup.sh qwen2.5-1.5b`, or
/// FURA_TEST_QWEN) decoded straight from the file's blocks (`--precision gguf`) gives transformers' float32
/// greedy text (`Tests/Fixtures/qwen2_5_coder_generation.json`, from `scripts/fixtures/qwen2_5_coder_generation.py`).
/// Skipped when the 1.1 GB file is absent (the default set-up does not fetch it).
enum QwenModel {
    static var path: String? {
        let candidate = ProcessInfo.processInfo.environment["FURA_TEST_QWEN"]
            ?? TestModel.packageRoot.appendingPathComponent("cache/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").path
        return FileManager.default.fileExists(atPath: candidate) ? candidate : nil
    }
}

@Suite(.serialized, .enabled(if: QwenModel.path != nil, "needs cache/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf (scripts/setup.sh qwen2.5-1.5b) or FURA_TEST_QWEN"))
struct QwenGGUFGenerationTests {

    struct Fixture: Decodable {
        struct Prompt: Decodable { var message: String; var prompt_ids: [Int]; var greedy_ids: [Int] }
        var eos_token_ids: [Int]
        var prompts: [Prompt]
    }

    @Test func kQuantBlocksGiveTransformersGreedyText() throws {
        let url = TestModel.packageRoot.appendingPathComponent("Tests/Fixtures/qwen2_5_coder_generation.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let loaded = try ModelLoader.load(path: QwenModel.path!)
        let engine = try GenerationModel(model: loaded.model, precision: .gguf, gguf: loaded.gguf)
        // Every projection and the head from the file's Q4_K/Q6_K blocks; none widened to f32.
        #expect(engine.weightSummary.contains("\(4 * loaded.config.numHiddenLayers + 1) matrices from the file's blocks"), "\(engine.weightSummary)")
        #expect(!engine.weightSummary.contains("in f32"), "\(engine.weightSummary)")
        let generator = Generator(model: engine)
        for p in fixture.prompts {
            let options = GenerationOptions(maxNewTokens: p.greedy_ids.count, eosTokenIds: Set(fixture.eos_token_ids))
            let result = try #require(try generator.generate(prompts: [p.prompt_ids], options: options).first)
            #expect(result.ids == p.greedy_ids, "\(p.message)")
        }
    }
}
