import Foundation
import FuRAModels
import FuRANN
import FuRATensor
import FuRATrain
import Testing

/// Shared setup for the loop tests: a bigram LM over ASCII and a small SFT set with a learnable pattern.
enum TrainFixture {
    static func examples(_ n: Int = 24) -> [SFTExample] {
        (0..<n).map { i in
            let letters = Array("abcdefgh")
            let a = letters[i % 8], b = letters[(i * 3 + 1) % 8]
            return SFTExample(source: "\(a)\(b):", target: String(repeating: "\(a)\(b)", count: 3) + "\u{4}")
        }
    }

    static func dataset(batchSize: Int, accumulation: Int, examples: [SFTExample] = examples(), seed: UInt64 = 43) throws -> SFTDataset {
        try SFTDataset(examples: examples, valSize: 4, tokenizer: CharacterTokenizer.sft, batchSize: batchSize,
                       gradientAccumulation: accumulation, maxSeqLen: 32, trainOnInputs: false, seed: seed)
    }

    static func options(steps: Int, lr: Double = 5e-2, directory: URL? = nil, saveEvery: Int? = nil, keep: Int = 3) -> Trainer.Options {
        Trainer.Options(totalSteps: steps,
                        schedule: LearningRateSchedule(kind: .linear, peakLearningRate: lr, warmup: .steps(1), totalSteps: steps),
                        adamW: AdamW.Options(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01), maxGradNorm: 1.0,
                        evaluateEvery: 2, saveEvery: saveEvery, keepCheckpoints: keep, outputDirectory: directory, seed: 43)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fura-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

@Suite struct TrainerTests {
    @Test func lossDecreasesOnTheTinyModel() throws {
        let model = try BigramLM(vocabulary: 128, width: 8, seed: 5)
        let data = try TrainFixture.dataset(batchSize: 4, accumulation: 2)
        var losses = [Double](), validation = [Double](), tokens = [Int]()
        let trainer = Trainer(model: model, source: data, objective: SFTObjective(), options: TrainFixture.options(steps: 30),
                              validation: try data.validationBatches()) { event in
            switch event {
            case let .step(m): losses.append(m.loss); tokens.append(m.tokens); #expect(m.gradNorm > 0 && m.peakRSSBytes > 0)
            case let .evaluation(_, v): validation.append(v)
            case .checkpoint: break
            }
        }
        try trainer.run()
        #expect(losses.count == 30)
        let first = losses.prefix(3).reduce(0, +) / 3, last = losses.suffix(3).reduce(0, +) / 3
        #expect(last < 0.6 * first, "first \(first) last \(last)")
        #expect(validation.count == 15)
        #expect(validation.last! < validation.first!)
        #expect(tokens.allSatisfy { $0 > 0 })
    }

    @Test func gradientAccumulationMatchesOneBigBatch() throws {
        // Batch 8 in one micro-batch vs 4 × 2 accumulated: the same examples in the same order, normalized by the
        // window's target count, give the same update up to float summation order.
        let examples = TrainFixture.examples(20)
        let big = try TrainFixture.dataset(batchSize: 8, accumulation: 1, examples: examples)
        let small = try TrainFixture.dataset(batchSize: 4, accumulation: 2, examples: examples)
        #expect(big.order(epoch: 0) == small.order(epoch: 0))
        var finals = [[String: [Float]]]()
        for data in [big, small] {
            let model = try BigramLM(vocabulary: 128, width: 8, seed: 9)
            try Trainer(model: model, source: data, objective: SFTObjective(), options: TrainFixture.options(steps: 3)).run()
            finals.append(Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.parameter.value.storage) }))
        }
        let reference = try BigramLM(vocabulary: 128, width: 8, seed: 9)
        for (name, parameter) in reference.namedParameters {
            let a = finals[0][name]!, b = finals[1][name]!
            let moved = zip(a, parameter.value.storage).map { abs($0 - $1) }.max()!
            let difference = zip(a, b).map { abs($0 - $1) }.max()!
            #expect(moved > 1e-3, "\(name) did not train")
            #expect(difference < 1e-5, "\(name): \(difference)")
        }
    }

    @Test func windowLossIsNormalizedByTheWindowTargets() throws {
        let model = try BigramLM(vocabulary: 128, width: 4, seed: 2)
        let data = try TrainFixture.dataset(batchSize: 3, accumulation: 2)
        let window = try data.window(forStep: 0)
        var rng = RNG(seed: 1)
        let microBatches = MicroBatchWindow(parameters: model.namedParameters.filter(\.parameter.trainable).map(\.parameter))
        let result = try SFTObjective().accumulate(model: model, window: window, rng: &rng, microBatches: microBatches)
        let targets = window.reduce(0) { $0 + $1.targetCount }
        #expect(result.targets == targets)
        #expect(abs(result.loss - (try SFTObjective.evaluate(model: model, batches: window))) < 1e-5)
    }

    @Test func nonFiniteLossStopsAndKeepsTheCheckpoint() throws {
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try BigramLM(vocabulary: 128, width: 8, seed: 5)
        let data = try TrainFixture.dataset(batchSize: 4, accumulation: 1)
        let trainer = Trainer(model: model, source: data, objective: SFTObjective(),
                              options: TrainFixture.options(steps: 10, directory: directory, saveEvery: 2))
        // Poison a weight after step 3: the forward at step 4 produces NaN.
        trainer.postUpdate = { step in if step == 3 { model.embedding.value.storage = model.embedding.value.storage.map { _ in .nan } } }
        #expect(throws: TrainingError.self) { try trainer.run() }
        do { try trainer.run() } catch let TrainingError.nonFinite(step, _, _) { #expect(step == 4) }
        #expect(Checkpoint.steps(in: directory) == [2])
        let checkpoint = try #require(Checkpoint.latest(in: directory))
        #expect(checkpoint.state.step == 2)
        #expect(checkpoint.values["model.embed_tokens.weight"]!.allSatisfy { $0.isFinite })
    }
}
