import Foundation
import FuRAFormats
import FuRATrain
import Testing

@Suite struct TrainConfigTests {
    static let required: [String: Any] = ["model": "m.gguf", "data": "d.json", "output": "out"]

    @Test func furaRecipeDefaults() throws {
        let c = try TrainConfig.resolve(file: nil, overrides: Self.required)
        #expect(c.method == .fura && c.lr == 2e-4 && c.betas == [0.9, 0.95] && c.weightDecay == 0)
        #expect(c.schedule == .linear && c.warmup == .fraction(0.03) && c.seed == 43)
        #expect(c.batchSize == 8 && c.gradAccum == 2 && c.epochs == 3 && c.maxSeqLen == 2048 && c.valSize == nil)
        #expect(c.heldOutCount(examples: 170_000) == 100 && c.heldOutCount(examples: 200) == 10 && c.heldOutCount(examples: 19) == 0)
        #expect(c.evalEvery == nil && c.gradientCheckpointing && c.maxGradNorm == nil)
    }

    @Test func methodDefaultsDiffer() throws {
        let full = try TrainConfig.resolve(file: nil, overrides: Self.required.merging(["method": "full"]) { $1 })
        #expect(full.weightDecay == 0.01 && full.heldOutCount(examples: 170_000) == 120 && full.heldOutCount(examples: 1000) == 50 && full.evalEvery == 400)
        let qlora = try TrainConfig.resolve(file: nil, overrides: Self.required.merging(["method": "qlora"]) { $1 })
        #expect(qlora.loraRank == 48 && qlora.loraAlpha == 96)
    }

    @Test func visualStagesTakeLLaVAsRecipesUnlessSet() throws {
        let tower: [String: Any] = ["vision_tower": "t.onnx"]
        let stage1 = try TrainConfig.resolve(file: nil, overrides: Self.required.merging(tower) { $1 }.merging(["stage": 1]) { $1 })
        #expect(stage1.lr == 1e-3 && stage1.schedule == .cosine && stage1.epochs == 1 && stage1.maxGradNorm == 1 && stage1.betas == [0.9, 0.999])
        #expect(stage1.vision.resolvedTemplate == .plain && stage1.vision.mmProjectorLr == nil)
        let stage2 = try TrainConfig.resolve(file: Data(#"{"vision_tower": "t.onnx", "lr": 3e-4}"#.utf8), overrides: Self.required)
        #expect(stage2.lr == 3e-4 && stage2.vision.mmProjectorLr == 2e-5 && stage2.vision.resolvedStage == 2)
        #expect(stage2.factorizeByHead == false && stage2.trainBias == false && stage2.vision.resolvedTemplate == .chat)
        // Image options without a tower, and a stage that does not exist, are refused by name.
        #expect(throws: TrainingError.self) { try TrainConfig.resolve(file: nil, overrides: Self.required.merging(["image_size": 112]) { $1 }) }
        #expect(throws: TrainingError.self) {
            try TrainConfig.resolve(file: nil, overrides: Self.required.merging(tower) { $1 }.merging(["stage": 3]) { $1 })
        }
        // The saved config resolves to itself.
        #expect(try TrainConfig.resolve(file: try stage2.json(), overrides: [:]) == stage2)
    }

    @Test func fileThenFlags() throws {
        let file = Data(#"{"method": "svd", "lr": 1e-5, "warmup": 10, "eval_every": null, "betas": [0.9, 0.99], "model": "x"}"#.utf8)
        let c = try TrainConfig.resolve(file: file, filePath: "run.json", overrides: ["lr": 3e-5, "data": "d", "output": "o"])
        #expect(c.method == .svd && c.lr == 3e-5 && c.warmup == .steps(10) && c.evalEvery == nil && c.betas == [0.9, 0.99] && c.model == "x")
        // The saved JSON resolves to the same config.
        let again = try TrainConfig.resolve(file: try c.json(), overrides: [:])
        #expect(again == c)
    }

    @Test func unknownKeysAndBadValuesNameTheKey() throws {
        do {
            _ = try TrainConfig.resolve(file: Data(#"{"learning_rate": 1}"#.utf8), filePath: "run.json", overrides: Self.required)
            Issue.record("expected an error")
        } catch let TrainingError.invalidOption(_, value, reason) {
            #expect(value.contains("learning_rate") && value.contains("run.json") && reason.contains("unknown key"))
        }
        #expect(throws: TrainingError.invalidOption(option: "method", value: "adam", reason: "expected one of fura, svd, lora, dora, pissa, full, qfura, qlora, qdora")) {
            try TrainConfig.resolve(file: nil, overrides: Self.required.merging(["method": "adam"]) { $1 })
        }
        do {
            _ = try TrainConfig.resolve(file: nil, overrides: Self.required.merging(["batch_size": 0]) { $1 })
            Issue.record("expected an error")
        } catch let TrainingError.invalidOption(option, _, _) {
            #expect(option == "batch_size")
        }
        #expect(throws: TrainingError.self) { try TrainConfig.resolve(file: nil, overrides: ["data": "d", "output": "o"]) }
    }

    @Test func yamlConfigResolvesLikeJSONAndFlagsOverrideIt() throws {
        let yaml = """
        # fura train --config run.yaml
        model: m.gguf
        data: d.json
        output: out
        method: svd
        lr: 1e-5
        warmup: 10
        eval_every: null
        betas: [0.9, 0.99]
        """
        let file = try ConfigFile(data: Data(yaml.utf8), path: "run.yaml")
        let c = try TrainConfig.resolve(configFile: file, overrides: ["lr": 3e-5])
        let json = try ConfigFile(data: Data(#"{"model": "m.gguf", "data": "d.json", "output": "out", "method": "svd", "lr": 1e-5, "warmup": 10, "eval_every": null, "betas": [0.9, 0.99]}"#.utf8), path: "run.json")
        #expect(c == (try TrainConfig.resolve(configFile: json, overrides: ["lr": 3e-5])))
        #expect(c.method == .svd && c.lr == 3e-5 && c.warmup == .steps(10) && c.evalEvery == nil && c.betas == [0.9, 0.99])
        let unknown = try ConfigFile(data: Data("model: m\nlearning_rate: 1\n".utf8), path: "bad.yaml")
        do { _ = try TrainConfig.resolve(configFile: unknown, overrides: Self.required); Issue.record("expected an error") } catch let error as ConfigFileError {
            #expect("\(error)".hasPrefix("bad.yaml:2: unknown key \"learning_rate\""))
        }
    }

    /// A wrong value in a config file is one line naming the file, line and key, what was expected and what was found.
    @Test func badValuesNameTheFileLineAndKey() throws {
        func message(_ yaml: String) throws -> String {
            let file = try ConfigFile(data: Data(yaml.utf8), path: "r.yaml")
            do { _ = try TrainConfig.resolve(configFile: file, overrides: [:]); return "no error" } catch { return "\(error)" }
        }
        let head = "model: m\ndata: d\noutput: o\n"
        #expect(try message(head + "lr: null\n") == "r.yaml:4: lr: expected a value (null clears only settings that may be unset), found null")
        #expect(try message(head + "batch_size: 64.5\n") == "r.yaml:4: batch_size: expected a whole number in range, found 64.5")
        #expect(try message(head + "max_seq_len: 1e308\n").hasPrefix("r.yaml:4: max_seq_len: expected a whole number in range, found 1"))
        #expect(try message(head + "lr: fast\n") == "r.yaml:4: lr: expected a number, found the text \"fast\"")
        // A UTF-8 byte-order mark is not part of the first key; a megabyte key is not echoed whole.
        #expect(try message("\u{FEFF}" + head) == "no error")
        let huge = try message(head + String(repeating: "x", count: 1_000_000) + ": 1\n")
        #expect(huge.hasPrefix("r.yaml:4: unknown key \"xxx") && huge.contains("(1000000 bytes)") && huge.count < 2_000)
    }
}
