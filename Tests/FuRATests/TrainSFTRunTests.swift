import Foundation
import FuRATrain
import Testing

@Suite struct TrainSFTRunTests {
    /// Writes an LLM-Adapters style file of `n` records.
    static func writeData(_ url: URL, n: Int) throws {
        let records = (0..<n).map { i -> [String: String] in
            let answer = i % 2 == 0 ? "true" : "false"
            return ["instruction": "q\(i % 5)", "input": "", "output": "the correct answer is \(answer)", "answer": answer]
        }
        try JSONSerialization.data(withJSONObject: records).write(to: url)
    }

    @Test func endToEndWithResume() throws {
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("train.json")
        try Self.writeData(data, n: 20)
        func config(iters: Int, output: String, resume: Bool) throws -> TrainConfig {
            try TrainConfig.resolve(file: nil, overrides: [
                "model": "bigram", "data": data.path, "output": directory.appendingPathComponent(output).path, "method": "full",
                "iters": iters, "batch_size": 2, "grad_accum": 2, "lr": 0.05, "val_size": 4, "eval_every": 2, "save_every": 2,
                "max_seq_len": 256, "resume": resume,
            ])
        }
        let model = try BigramLM(vocabulary: 128, width: 8, seed: 3)
        var losses = [Double]()
        let run = try SFTRun(config: config(iters: 6, output: "a", resume: false), model: model, tokenizer: CharacterTokenizer.sft) {
            if case let .step(m) = $0 { losses.append(m.loss) }
        }
        #expect(run.dataset.train.count == 16 && run.dataset.validation.count == 4)
        #expect(run.warnings.isEmpty)
        var short = try config(iters: 1, output: "c", resume: false)
        short.maxSeqLen = 100
        #expect {
            try SFTRun(config: short, model: try BigramLM(vocabulary: 128, width: 4, seed: 1), tokenizer: CharacterTokenizer.sft)
        } throws: { "\($0)".contains("invalid max-seq-len = 100: every one of the 16 training examples has its target cut away") }
        try run.run()
        #expect(losses.count == 6 && losses.last! < losses.first!)
        let saved = try TrainConfig.resolve(file: Data(contentsOf: directory.appendingPathComponent("a/config.json")), overrides: [:])
        #expect(saved == run.config)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("a/loss.svg").path))
        #expect(Checkpoint.steps(in: directory.appendingPathComponent("a")) == [6, 4])

        // Stopped during step 4 (after the step-2 checkpoint), then a resumed run to 6, equals the straight run bit for bit.
        let part = try BigramLM(vocabulary: 128, width: 8, seed: 3)
        var partConfig = try config(iters: 6, output: "b", resume: false)
        partConfig.iters = 6
        let first = try SFTRun(config: partConfig, model: part, tokenizer: CharacterTokenizer.sft)
        first.trainer.postUpdate = { if $0 == 4 { throw CancellationError() } }
        #expect(throws: CancellationError.self) { try first.run() }
        #expect(Checkpoint.steps(in: directory.appendingPathComponent("b")) == [2])
        let fresh = try BigramLM(vocabulary: 128, width: 8, seed: 3)
        let second = try SFTRun(config: config(iters: 6, output: "b", resume: true), model: fresh, tokenizer: CharacterTokenizer.sft)
        #expect(second.resumedAtStep == 2)
        try second.run()
        #expect(CheckpointTests.differingElements(fresh, model) == 0)
        let lines = try String(contentsOf: directory.appendingPathComponent("b/metrics.jsonl"), encoding: .utf8)
        #expect(lines.split(separator: "\n").filter { $0.contains("\"loss\"") }.count == 6)
    }
}
