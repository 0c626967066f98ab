import Foundation
import FuRAModels
import FuRATensor
import FuRATrain
import Testing

@Suite struct CheckpointTests {
    /// Trains `steps` steps (resuming from `directory` first when asked) and returns the model.
    static func train(steps total: Int, stopAfter: Int? = nil, directory: URL?, resume: Bool) throws -> BigramLM {
        let model = try BigramLM(vocabulary: 128, width: 8, seed: 21)
        let data = try TrainFixture.dataset(batchSize: 3, accumulation: 2)
        var options = TrainFixture.options(steps: total, directory: directory, saveEvery: 1)
        options.keepCheckpoints = 2
        let trainer = Trainer(model: model, source: data, objective: SFTObjective(), options: options)
        if resume { #expect(try trainer.resumeFromLatestCheckpoint() != nil) }
        if let stopAfter {
            trainer.postUpdate = { step in if step == stopAfter { throw CancellationError() } }
            #expect(throws: CancellationError.self) { try trainer.run() }
            // The stop happens before step `stopAfter`'s checkpoint; save it as a scheduled save would.
            try trainer.saveCheckpoint()
        } else {
            try trainer.run()
        }
        return model
    }

    /// Trainable elements whose bits differ between two models (all of them if the tensor sets differ).
    static func differingElements(_ a: BigramLM, _ b: BigramLM) -> Int {
        let x = a.trainableBits, y = b.trainableBits
        guard Set(x.keys) == Set(y.keys) else { return Int.max }
        return x.reduce(0) { total, item in total + zip(item.value, y[item.key]!).filter { $0 != $1 }.count }
    }

    @Test func resumeIsBitIdentical() throws {
        let straight = try Self.train(steps: 6, directory: nil, resume: false)
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try Self.train(steps: 6, stopAfter: 3, directory: directory, resume: false)
        #expect(Self.differingElements(first, straight) > 0)
        #expect(Checkpoint.steps(in: directory) == [3, 2])
        let resumed = try Self.train(steps: 6, directory: directory, resume: true)
        #expect(Self.differingElements(resumed, straight) == 0)
        #expect(Checkpoint.steps(in: directory) == [6, 5])
    }

    @Test func interruptedWritesAreIgnored() throws {
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try Self.train(steps: 6, stopAfter: 2, directory: directory, resume: false)
        // A kill during the write of step 3 leaves a hidden temporary directory with a partial tensor file,
        // and a copy of a directory without its state.
        let partial = directory.appendingPathComponent(".checkpoint-3.tmp-1234")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 100).write(to: partial.appendingPathComponent(Checkpoint.tensorFile))
        let broken = directory.appendingPathComponent("checkpoint-4")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        try Data(repeating: 1, count: 12).write(to: broken.appendingPathComponent(Checkpoint.tensorFile))
        let latest = try #require(Checkpoint.latest(in: directory))
        #expect(latest.state.step == 2)
        // Resuming from step 2 reproduces the uninterrupted run.
        let resumed = try Self.train(steps: 6, directory: directory, resume: true)
        let straight = try Self.train(steps: 6, directory: nil, resume: false)
        #expect(Self.differingElements(resumed, straight) == 0)
        #expect(!FileManager.default.fileExists(atPath: partial.path))
    }

    @Test func truncatedTensorFileIsRejected() throws {
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try Self.train(steps: 4, stopAfter: 1, directory: directory, resume: false)
        let url = directory.appendingPathComponent("checkpoint-1")
        let tensors = url.appendingPathComponent(Checkpoint.tensorFile)
        let data = try Data(contentsOf: tensors)
        try data.prefix(data.count - 4).write(to: tensors)
        #expect(throws: TrainingError.self) { try Checkpoint.read(url) }
        #expect(Checkpoint.latest(in: directory) == nil)
    }

    @Test func resumeRefusesDifferentData() throws {
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try Self.train(steps: 6, stopAfter: 2, directory: directory, resume: false)
        let model = try BigramLM(vocabulary: 128, width: 8, seed: 21)
        let data = try TrainFixture.dataset(batchSize: 5, accumulation: 2)
        let trainer = Trainer(model: model, source: data, objective: SFTObjective(),
                              options: TrainFixture.options(steps: 6, directory: directory))
        #expect(throws: TrainingError.self) { try trainer.resumeFromLatestCheckpoint() }
    }
}
