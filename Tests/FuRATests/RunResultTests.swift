import Foundation
import FuRA
import FuRAFormats
@testable import FuRAModels
import FuRANN
import FuRATensor
import FuRATrain
import Testing

/// Every run, SFT or GRPO, leaves `checkpoint-N/adapter/` in each checkpoint and `DIR/adapter/` at the end, and
/// `--adapter` takes any of them (a run directory included).
@Suite struct RunResultTests {
    /// A GRPO run with LoRA on q and o: each checkpoint's adapter reloads onto a fresh base and gives that step's logits.
    @Test(arguments: [MethodName.lora, .fura])
    func grpoCheckpointsHoldLoadableAdapters(method name: MethodName) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-adapter-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try CausalLM.random(config: GRPOTrainerTests.config, seed: 21)
        let method = try MethodRegistry.make(name, settings: MethodSettings(loraRank: 2, targetModules: "q_proj,o_proj"), recipe: .rl)
        let application = try method.apply(to: model, seed: 3)
        var options = GRPOTrainerTests.options(steps: 2)
        options.saveEvery = 1
        options.keepCheckpoints = 3
        let trainer = try GRPOTrainer(model: model, options: options, trainExamples: GRPOTrainerTests.problems, evalExamples: [],
                                      rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(),
                                      codec: GRPOTrainerTests.codec, outputDirectory: directory)
        trainer.preMicroBatch = application.preMicroBatch
        trainer.postUpdate = application.postUpdate
        trainer.saveAdapters(of: method, baseModel: "random")
        try trainer.run()
        let loaded = LoadedModel(model: model, config: model.config, sourcePath: "random", loadSeconds: 0, tokenizer: nil, gguf: nil)
        let final = try RunResult.write(loaded, method: method, baseModel: "random", into: directory.path)
        #expect(final == directory.appendingPathComponent("adapter").path)
        let ids = [[1, 5, 9, 2, 3, 7]]
        let expected = try model.logits(for: ids, allPositions: true).storage
        for path in [directory.path, directory.appendingPathComponent("checkpoint-2").path] {
            let fresh = try CausalLM.random(config: GRPOTrainerTests.config, seed: 21)
            let described = try AdapterFiles.load(path + (path == directory.path ? "" : "/adapter"), into: fresh)
            #expect(described.method == name)
            let logits = try fresh.logits(for: ids, allPositions: true).storage
            #expect((zip(logits, expected).map { abs($0 - $1) }.max() ?? 1) < 1e-5, "\(path)")
        }
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("checkpoint-1/adapter/adapter_config.json").path))
        let untouched = try CausalLM.random(config: GRPOTrainerTests.config, seed: 21).logits(for: ids, allPositions: true).storage
        #expect((zip(untouched, expected).map { abs($0 - $1) }.max() ?? 0) > 1e-4, "GRPO must have moved the adapter")
        if name == .lora {
            let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("adapter/adapter_config.json"))) as? [String: Any]
            #expect(Set(stored?["target_modules"] as? [String] ?? []) == ["q_proj", "o_proj"])
        }
    }
}

/// What a kill leaves behind is cleaned up, and no checkpoint ever holds a non-finite value.
@Suite struct RunHygieneTests {
    @Test func strayTemporaryFilesOfKilledWritersAreRemoved() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fura-stray-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["adapter_model.safetensors.tmp-999999", "loss.svg.tmp-12", "notes.tmp-x", "keep.txt"] {
            try Data("x".utf8).write(to: directory.appendingPathComponent(name))
        }
        _ = try RunRecorder(directory: directory, resumedAtStep: nil)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
        #expect(left == ["notes.tmp-x", "keep.txt", "metrics.jsonl"])
    }

    @Test func aCheckpointWithANonFiniteValueIsNotWritten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fura-nan-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let p = Parameter(name: "w", value: try Tensor(shape: [2], data: [1, .infinity]), trainable: true)
        let checkpoint = Checkpoint(step: 1, schedule: LearningRateSchedule(kind: .constant, peakLearningRate: 1, warmup: .steps(0), totalSteps: 1),
                                    optimizer: AdamW(options: .init(beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0)), rng: RNG(seed: 1),
                                    cursor: DataCursor(epoch: 0, microBatch: 1), parameters: [("w", p)])
        #expect(throws: TrainingError.self) { try checkpoint.write(into: directory, keep: 2) }
        #expect(Checkpoint.steps(in: directory).isEmpty)
    }
}

/// Interop: templates where transformers 5 saves them, and the pre-tokenizer names llama.cpp reads.
@Suite struct InteropNamesTests {
    @Test func preTokenizerNamesAreLlamaCpps() {
        #expect(PreTokenizer.gpt2.ggmlName == "gpt-2" && PreTokenizer(ggmlPre: "gpt-2") == .gpt2)
        for p in PreTokenizer.allCases { #expect(PreTokenizer(ggmlPre: p.ggmlName) == p) }
    }

    @Test func chatTemplateIsReadFromTheJinjaFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fura-jinja-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(ChatTemplate.templateString(directory: directory.path, tokenizerConfig: [:]) == nil)
        try Data("{{ messages }}".utf8).write(to: directory.appendingPathComponent("chat_template.jinja"))
        #expect(ChatTemplate.templateString(directory: directory.path, tokenizerConfig: [:]) == "{{ messages }}")
        #expect(ChatTemplate.templateString(directory: directory.path, tokenizerConfig: ["chat_template": "x"]) == "x")
    }
}

@Suite struct SFTDataFilesTests {
    @Test func mlxLMDirectoryLayoutResolves() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fura-mlx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: TrainingError.self) { try SFTDataFiles.resolve(data: directory.path, validation: nil) }
        try Data("{\"text\": \"a\"}\n".utf8).write(to: directory.appendingPathComponent("train.jsonl"))
        #expect(try SFTDataFiles.resolve(data: directory.path, validation: nil).validation == nil)
        try Data("{\"text\": \"b\"}\n".utf8).write(to: directory.appendingPathComponent("valid.jsonl"))
        let files = try SFTDataFiles.resolve(data: directory.path, validation: nil)
        #expect(files.train.hasSuffix("/train.jsonl") && files.validation?.hasSuffix("/valid.jsonl") == true)
        #expect(try SFTDataFiles.resolve(data: "x.json", validation: "v.json") == ("x.json", "v.json"))
    }
}

@Suite struct CollapseDetectorTests {
    @Test func uniformPlateauAndLossJumpsStopTheRun() throws {
        var flat = CollapseDetector(vocabularySize: 49152)
        let lnV = log(49152.0)
        try flat.check(step: 1, loss: 3, gradNorm: 2, learningRate: 1e6)
        try flat.check(step: 2, loss: lnV, gradNorm: 0, learningRate: 1e6)
        try flat.check(step: 3, loss: lnV, gradNorm: 0, learningRate: 1e6)
        #expect(throws: TrainingError.self) { try flat.check(step: 4, loss: lnV, gradNorm: 0, learningRate: 1e6) }
        var jump = CollapseDetector(vocabularySize: 100)
        for step in 1...12 { try jump.check(step: step, loss: 1.5 - 0.01 * Double(step), gradNorm: 1, learningRate: 1e-3) }
        #expect(throws: TrainingError.self) { try jump.check(step: 13, loss: 40, gradNorm: 1, learningRate: 1e-3) }
        // A healthy run with noise never trips it.
        var healthy = CollapseDetector(vocabularySize: 100)
        var rng = RNG(seed: 3)
        for step in 1...200 { try healthy.check(step: step, loss: 3 * exp(-Double(step) / 50) + 0.5 * Double(rng.uniform()), gradNorm: 1, learningRate: 1e-3) }
    }
}

@Suite struct ModelConfigLimitTests {
    static func load(_ json: String) throws -> ModelConfig {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fura-config-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try ModelConfig.load(contentsOf: url)
    }
    static let base = #""hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "vocab_size": 100"#

    @Test func corruptSizesAreOneLineErrorsBeforeAnyAllocation() throws {
        _ = try Self.load("{\(Self.base), \"num_hidden_layers\": 2}")
        for (extra, field) in [("\"num_hidden_layers\": 4294967295", "num_hidden_layers"), ("\"num_hidden_layers\": 2, \"head_dim\": 2147483648", "head_dim"),
                               ("\"num_hidden_layers\": 1e12", "num_hidden_layers"), ("\"num_hidden_layers\": 2, \"vocab_size\": 4611686018427387904", "vocab_size")] {
            do {
                _ = try Self.load("{\(Self.base.replacingOccurrences(of: ", \"vocab_size\": 100", with: extra.contains("vocab") ? "" : ", \"vocab_size\": 100")), \(extra)}")
                Issue.record("\(extra) was accepted")
            } catch let error as ModelConfigError {
                #expect(error.description.contains(field) && !error.description.contains("\n") && !error.description.contains("CodingKeys"), "\(error)")
            }
        }
    }

    /// NaN or infinite norm epsilons and rotary bases (a GGUF float can hold them) are refused, naming the field.
    @Test func nonFiniteRopeAndEpsAreRefused() throws {
        var config = try Self.load("{\(Self.base), \"num_hidden_layers\": 2, \"model_type\": \"llama\"}")
        try config.validate()
        for (field, change) in [("rms_norm_eps", { (c: inout ModelConfig) in c.rmsNormEps = .infinity }),
                                ("rope_theta", { (c: inout ModelConfig) in c.ropeTheta = .nan }),
                                ("rope_scaling.factor", { (c: inout ModelConfig) in c.ropeScaling = .init(ropeType: "llama3", factor: .infinity) })] {
            var bad = config
            change(&bad)
            do { try bad.validate(); Issue.record("\(field) accepted") } catch let error as ModelConfigError {
                #expect(error.description.contains(field), "\(error)")
            }
        }
        config.ropeTheta = 500_000
        try config.validate()
    }
}
