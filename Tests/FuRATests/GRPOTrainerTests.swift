import Foundation
import FuRA
import FuRAModels
import FuRANN
import FuRATensor
@testable import FuRATrain
import Testing

/// Rewards the share of the letter "c" (token 3) in a completion.
struct LetterShareReward: RewardFunction {
    var name: String { "letter_c" }
    func reward(prompt: String, completion: String, example: RewardExample) -> Double {
        completion.isEmpty ? 0 : Double(completion.filter { $0 == "c" }.count) / Double(completion.count)
    }
}

@Suite struct GRPOTrainerTests {
    static let config = ModelConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                                    vocabSize: 12, rmsNormEps: 1e-5, ropeTheta: 100, maxPositionEmbeddings: 64, tieWordEmbeddings: false)
    static let letters = Array("abcdefghijkl")
    static let codec = GRPOCodec(
        prompt: { example in (example.question, example.question.unicodeScalars.map { Int($0.value) % 11 + 1 }) },
        decode: { ids in String(ids.map { letters[$0] }) }, stopIds: [0], padId: 0)
    static let problems = (0..<12).map { RewardExample(question: "q\($0)x\($0 % 5)", answer: "\($0)") }

    static func options(steps: Int) -> GRPOOptions {
        var o = GRPOOptions()
        o.steps = steps; o.promptsPerStep = 4; o.groupSize = 6; o.maxNewTokens = 6; o.learningRate = 3e-2
        o.microBatchSize = 5; o.evalLimit = 0; o.seed = 9
        return o
    }

    static func model() throws -> CausalLM {
        let model = try CausalLM.random(config: config, seed: 21)
        for (_, p) in model.namedParameters { p.trainable = true }
        return model
    }

    @Test func rewardPreferringOneTokenRisesWithinAFewSteps() throws {
        var rewards: [Double] = []
        let trainer = try GRPOTrainer(model: Self.model(), options: Self.options(steps: 8), trainExamples: Self.problems, evalExamples: [],
                                      rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(), codec: Self.codec,
                                      outputDirectory: nil) { event in
            if case let .step(m) = event { rewards.append(m.reward) }
        }
        try trainer.run()
        #expect(rewards.count == 8)
        let first = rewards.prefix(2).reduce(0, +) / 2, last = rewards.suffix(2).reduce(0, +) / 2
        #expect(last > first + 0.2, "rewards \(rewards)")
    }

    @Test func clippedLossWithKLAndTwoEpochsRunsAndReportsKL() throws {
        var options = Self.options(steps: 2)
        options.loss = GRPOLoss(kind: .grpo, epsilon: 0.2, beta: 0.05)
        options.epochsPerStep = 2
        options.scaleRewards = .group
        var metrics: [GRPOStepMetrics] = []
        let trainer = try GRPOTrainer(model: Self.model(), options: options, trainExamples: Self.problems, evalExamples: [],
                                      rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(), codec: Self.codec,
                                      outputDirectory: nil) { event in
            if case let .step(m) = event { metrics.append(m) }
        }
        try trainer.run()
        // Step 1 starts at the reference policy (KL 0 before its first update); step 2 has moved away.
        #expect(metrics.count == 2 && metrics[1].kl != nil && metrics[1].kl! > 0)
        #expect(metrics.allSatisfy { $0.clipRatio >= 0 && $0.clipRatio <= 1 })
    }

    /// Rollouts in bf16 compute sample from a slightly different policy: their log-probs are not used
    /// as old log-probs (the first pass recomputes them in f32), so the first ratio is exactly 1 and a
    /// tiny clip range clips nothing. Frozen projections are what the engine packs in bf16.
    /// The same with f16 keys and values in the rollout cache.
    @Test(arguments: [false, true])
    func inexactRolloutsRecomputeOldLogProbs(f16Cache: Bool) throws {
        let model = try CausalLM.random(config: Self.config, seed: 21)
        for (name, p) in model.namedParameters { p.trainable = name.contains("norm") || name.hasPrefix("lm_head") }
        var options = Self.options(steps: 1)
        options.loss = GRPOLoss(kind: .grpo, epsilon: 1e-6)
        if f16Cache { options.rolloutKeyValuePrecision = .float16 } else { options.rolloutPrecision = .bfloat16Compute }
        var metrics: [GRPOStepMetrics] = []
        let trainer = try GRPOTrainer(model: model, options: options, trainExamples: Self.problems, evalExamples: [],
                                      rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(), codec: Self.codec,
                                      outputDirectory: nil) { event in
            if case let .step(m) = event { metrics.append(m) }
        }
        try trainer.run()
        #expect(metrics.count == 1 && metrics[0].clipRatio == 0 && metrics[0].reward.isFinite)
        options.rolloutPrecision = .gguf
        #expect(throws: TrainingError.self) { try options.validate() }
    }

    @Test func resumeIsBitIdentical() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let straightDir = base.appendingPathComponent("straight"), resumedDir = base.appendingPathComponent("resumed")
        var options = Self.options(steps: 4)
        options.saveEvery = 2
        options.keepCheckpoints = 5
        var straightRewards: [Double] = []
        let straight = try GRPOTrainer(model: Self.model(), options: options, trainExamples: Self.problems, evalExamples: [],
                                       rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(), codec: Self.codec,
                                       outputDirectory: straightDir) { event in
            if case let .step(m) = event { straightRewards.append(m.reward) }
        }
        try straight.run()
        try FileManager.default.createDirectory(at: resumedDir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: straightDir.appendingPathComponent("checkpoint-2"), to: resumedDir.appendingPathComponent("checkpoint-2"))
        var resumedRewards: [Double] = []
        let resumed = try GRPOTrainer(model: Self.model(), options: options, trainExamples: Self.problems, evalExamples: [],
                                      rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(), codec: Self.codec,
                                      outputDirectory: resumedDir) { event in
            if case let .step(m) = event { resumedRewards.append(m.reward) }
        }
        #expect(try resumed.resumeFromLatestCheckpoint() == 2)
        try resumed.run()
        #expect(resumedRewards == Array(straightRewards.suffix(2)))
        for ((name, a), (_, b)) in zip(straight.trainableParameters, resumed.trainableParameters) {
            #expect(a.value.storage == b.value.storage, "\(name) differs after resume")
        }
        #expect(straight.optimizer.stepCount == resumed.optimizer.stepCount)
    }

    /// A run with a constant learning rate may be resumed with more steps: 2 steps, then resumed to 4, ends where
    /// 4 steps straight end (a decaying schedule may not: its rates depend on the total).
    @Test func constantScheduleRunExtendsOnResume() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("grpo-extend-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        func trainer(steps: Int, directory: URL?) throws -> GRPOTrainer {
            var options = Self.options(steps: steps)
            options.saveEvery = 2
            return try GRPOTrainer(model: Self.model(), options: options, trainExamples: Self.problems, evalExamples: [],
                                   rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(), codec: Self.codec,
                                   outputDirectory: directory) { _ in }
        }
        let straight = try trainer(steps: 4, directory: nil)
        try straight.run()
        let short = try trainer(steps: 2, directory: base)
        try short.run()
        let extended = try trainer(steps: 4, directory: base)
        #expect(try extended.resumeFromLatestCheckpoint() == 2)
        try extended.run()
        for ((name, a), (_, b)) in zip(straight.trainableParameters, extended.trainableParameters) {
            #expect(a.value.storage == b.value.storage, "\(name) differs after the extended resume")
        }
        let constant = LearningRateSchedule(kind: .constant, peakLearningRate: 1, warmup: .steps(2), totalSteps: 10)
        var longer = constant
        longer.totalSteps = 30
        #expect(longer.continues(constant) && (0..<10).allSatisfy { longer.learningRate(at: $0) == constant.learningRate(at: $0) })
        var linear = constant, longerLinear = longer
        linear.kind = .linear; longerLinear.kind = .linear
        #expect(!longerLinear.continues(linear) && linear.continues(linear))
        longer.warmupSteps = 3
        #expect(!longer.continues(constant))
    }

    @Test func promptIndicesArePureAndDistinctWithinAStep() {
        let a = GRPOTrainer.promptIndices(step: 3, count: 5, of: 12, seed: 7)
        #expect(a == GRPOTrainer.promptIndices(step: 3, count: 5, of: 12, seed: 7))
        #expect(Set(a).count == 5 && a.allSatisfy { $0 >= 0 && $0 < 12 })
        #expect(a != GRPOTrainer.promptIndices(step: 4, count: 5, of: 12, seed: 7))
    }

    @Test func emptyTrainingDataIsATypedError() throws {
        #expect(throws: TrainingError.self) {
            try GRPOTrainer(model: Self.model(), options: Self.options(steps: 1), trainExamples: [], evalExamples: [],
                            rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(), codec: Self.codec, outputDirectory: nil)
        }
    }

    @Test func boxedPromptHasTheReferenceBytes() {
        let text = GRPOPrompt.userText(question: "What is 2 + 3?")
        #expect(text == "Think for a bit about the question and then put your final answer as a number inside \\\\boxed{}. (i.e. \\\\boxed{answer here})\nQuestion: What is 2 + 3?")
        let arithmetic = GRPOArithmeticTask.examples(count: 50, seed: 1)
        #expect(arithmetic == GRPOArithmeticTask.examples(count: 50, seed: 1))
        #expect(arithmetic != GRPOArithmeticTask.examples(count: 50, seed: 1, stream: 1))
        for e in arithmetic {
            let parts = e.question.dropFirst("What is ".count).dropLast().split(separator: " ")
            #expect(parts.count == 3 && Int(parts[0])! + Int(parts[2])! == Int(e.answer)!)
            #expect((2...30).contains(Int(parts[0])!) && (2...30).contains(Int(parts[2])!))
        }
    }

    /// Every method of `fura train` goes through `TrainMethodSetup` for GRPO too: rollouts (through the
    /// dense rollout copy), rewards and updates run, and the method's trainable tensors move.
    @Test(arguments: [TrainMethod.fura, .svd, .lora, .dora, .full, .qlora, .qdora])
    func everyTrainMethodTrainsThroughTrainMethodSetup(method: TrainMethod) throws {
        let model = try CausalLM.random(config: Self.config, seed: 21)
        let config = try TrainConfig.resolve(file: nil, overrides: [
            "model": "random", "data": "-", "output": "-", "method": method.rawValue, "seed": 3,
            "lora_rank": 2, "lora_alpha": 4, "lora_dropout": 0.0,
        ])
        let setup = try TrainMethodSetup.apply(config, to: model)
        var options = Self.options(steps: 2)
        options.learningRate = 1e-2
        var steps = 0
        let trainer = try GRPOTrainer(model: model, options: options, trainExamples: Self.problems, evalExamples: [],
                                      rewards: WeightedRewards([LetterShareReward()]), accuracy: LetterShareReward(), codec: Self.codec,
                                      outputDirectory: nil) { if case .step = $0 { steps += 1 } }
        trainer.preMicroBatch = setup.preMicroBatch
        trainer.postUpdate = setup.postUpdate
        let before = trainer.trainableParameters.map { $0.parameter.value.storage }
        #expect(!before.isEmpty)
        try trainer.run()
        let after = trainer.trainableParameters.map { $0.parameter.value.storage }
        #expect(steps == 2 && trainer.optimizer.stepCount == 2)
        #expect(zip(before, after).contains { $0 != $1 }, "\(method): no trainable tensor moved")
    }
}
