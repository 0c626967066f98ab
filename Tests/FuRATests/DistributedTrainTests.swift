import Foundation
import FuRATrain
import Testing

/// `mpirun` on the PATH, if Open MPI's launcher is installed.
enum MPIRun {
    static var path: String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// `mpirun -np 2 fura train` against one process with twice the gradient accumulation, on a tiny random Llama with the
/// default model's tokenizer (its chat template and ids; seconds instead of a minute with the 135M model on 2 cores).
@Suite(.enabled(if: TestModel.available, "needs cache/SmolLM2-135M-Instruct.Q4_1.gguf or FURA_TEST_MODEL"),
       .enabled(if: MPIRun.path != nil, "needs Open MPI's mpirun (apt-get install openmpi-bin libopenmpi-dev)"))
struct DistributedTrainTests {
    static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fura").path
    }

    /// Runs `executable` to its end (killed after `timeout` seconds); returns its status and output.
    static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fura-mpi-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
    }

    /// The lines of a run's metrics, without the timing fields `timed` (they differ from run to run).
    static func steps(_ run: URL, timed: [String] = ["tokens_per_second", "peak_rss_bytes"]) throws -> [String] {
        try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").map { line in
            var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for key in timed { object[key] = nil }
            return String(decoding: try JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
        }
    }

    /// The adapter files of two runs are equal byte for byte.
    static func expectSameAdapters(_ a: URL, _ b: URL, _ comment: String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: a.appendingPathComponent("adapter").path).filter { $0.hasSuffix(".safetensors") }
        #expect(!names.isEmpty)
        for name in names {
            let x = try Data(contentsOf: a.appendingPathComponent("adapter/\(name)"))
            let y = try Data(contentsOf: b.appendingPathComponent("adapter/\(name)"))
            #expect(x == y, "\(name): \(comment)")
        }
    }

    /// `mpirun … -np N fura`. Containers often forbid the cross-memory attach of Open MPI's shared-memory transport:
    /// copy through the segment. A waiting rank yields its core (the suite's other tests share the machine).
    static func mpirun(processes: Int) -> [String] {
        [MPIRun.path!, "--allow-run-as-root", "--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none",
         "--mca", "mpi_yield_when_idle", "1", "-np", "\(processes)", binary]
    }

    @Test func twoProcessesTrainTheOneProcessAdapterBitForBitAndResumeEachOther() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "fura is built beside the tests (\(Self.binary))")
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("train.json")
        try TrainSFTRunTests.writeData(data, n: 12)
        let config = directory.appendingPathComponent("config.json"), model = directory.appendingPathComponent("model").path
        try Data(#"{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 49152, "tie_word_embeddings": true}"#.utf8).write(to: config)
        let made = try Self.run(Self.binary, ["make-model", "--config", config.path, "--random", "--dtype", "f32",
                                              "--tokenizer-from", TestModel.smolLM2Path!, "--output", model])
        try #require(made.status == 0, "\(made.output)")
        // LoRA with dropout: the masks are drawn per global micro-batch, so they too must not depend on the processes.
        // 10 training examples in micro-batches of 2: the third step's window is one micro-batch, which rank 1 sits out.
        func train(_ output: String, gradAccum: Int) -> [String] {
            ["train", "--model", model, "--data", data.path, "--output", directory.appendingPathComponent(output).path,
             "--method", "lora", "--lora-rank", "4", "--lora-dropout", "0.1", "--iters", "3", "--batch-size", "2",
             "--grad-accum", "\(gradAccum)", "--max-seq-len", "64", "--val-size", "2", "--eval-every", "0", "--threads", "1",
             "--save-every", "2"]
        }
        let mpirun = Self.mpirun(processes: 2)
        let two = try Self.run(mpirun[0], Array(mpirun.dropFirst()) + train("two", gradAccum: 1))
        #expect(two.status == 0, "\(two.output)")
        #expect(two.output.contains("2 processes × grad-accum 1 (2 micro-batches a step)"), "\(two.output)")
        let one = try Self.run(Self.binary, train("one", gradAccum: 2))
        #expect(one.status == 0, "\(one.output)")
        let (oneRun, twoRun) = (directory.appendingPathComponent("one"), directory.appendingPathComponent("two"))
        try Self.expectSameAdapters(oneRun, twoRun, "1 process × grad-accum 2 against 2 processes × grad-accum 1")
        #expect(try Self.steps(twoRun) == Self.steps(oneRun))
        #expect(try RunSummary.read(from: twoRun.path)?.processes == 2)
        #expect(try RunSummary.read(from: oneRun.path)?.processes == nil)
        // Each run continues from its checkpoint-2 with the other number of processes (the data cursor counts global
        // micro-batches, so only processes × grad-accum has to match).
        for run in [oneRun, twoRun] {
            for name in ["checkpoint-3", "adapter"] { try FileManager.default.removeItem(at: run.appendingPathComponent(name)) }
        }
        let twoResumedByOne = try Self.run(Self.binary, train("two", gradAccum: 2) + ["--resume"])
        let oneResumedByTwo = try Self.run(mpirun[0], Array(mpirun.dropFirst()) + train("one", gradAccum: 1) + ["--resume"])
        for resumed in [twoResumedByOne, oneResumedByTwo] {
            #expect(resumed.status == 0 && resumed.output.contains("resumed from checkpoint-2"), "\(resumed.output)")
        }
        let fresh = try Self.run(Self.binary, train("fresh", gradAccum: 2))
        #expect(fresh.status == 0, "\(fresh.output)")
        try Self.expectSameAdapters(oneRun, directory.appendingPathComponent("fresh"), "resumed by 2 processes after 1")
        try Self.expectSameAdapters(twoRun, directory.appendingPathComponent("fresh"), "resumed by 1 process after 2")
    }

    /// `mpirun -np 2 fura grpo` against one process with the same flags, on the default model (a random one earns no
    /// reward, so no gradient) with easy problems it sometimes answers: 3 prompts (rank 0 samples 2 groups, rank 1 one),
    /// 3 micro-batches, the KL term (reference forwards shared too) and the shared held-out evaluation. Top-p < 1 makes
    /// the one process take the first pass's log-probabilities as the old policy's, as several processes always do.
    @Test func grpoOnTwoProcessesEqualsOneProcessBitForBit() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "fura is built beside the tests (\(Self.binary))")
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("easy.jsonl")
        try Data("""
            {"question": "What is 2 + 2?", "answer": "4"}
            {"question": "What is 3 + 5?", "answer": "8"}
            {"question": "What is 1 + 1?", "answer": "2"}
            {"question": "What is 5 + 4?", "answer": "9"}

            """.utf8).write(to: data)
        func grpo(_ output: String) -> [String] {
            ["grpo", "--model", TestModel.smolLM2Path!, "--data", data.path, "--eval-data", data.path, "--eval-limit", "2",
             "--output", directory.appendingPathComponent(output).path, "--method", "lora", "--lora-rank", "4", "--steps", "2",
             "--prompts-per-step", "3", "--group-size", "2", "--max-new-tokens", "8", "--micro-batch-size", "2", "--top-p", "0.99",
             "--lr", "1e-3", "--answer-mode", "last-number", "--loss", "grpo", "--beta", "0.04", "--threads", "1"]
        }
        let mpirun = Self.mpirun(processes: 2)
        let two = try Self.run(mpirun[0], Array(mpirun.dropFirst()) + grpo("two"))
        #expect(two.status == 0, "\(two.output)")
        #expect(two.output.contains("2 processes share each step's 3 prompts"), "\(two.output)")
        let one = try Self.run(Self.binary, grpo("one"))
        #expect(one.status == 0, "\(one.output)")
        let (oneRun, twoRun) = (directory.appendingPathComponent("one"), directory.appendingPathComponent("two"))
        try Self.expectSameAdapters(oneRun, twoRun, "1 process against 2 processes, same flags")
        let timed = ["rollout_seconds", "train_seconds", "rollout_tokens_per_second", "tokens_per_second", "peak_rss_bytes"]
        let steps = try Self.steps(oneRun, timed: timed)
        #expect(try Self.steps(twoRun, timed: timed) == steps)
        // The comparison is not vacuous: a step had a gradient, and the evaluation lines are there.
        #expect(steps.contains { !$0.contains(#""grad_norm":0,"#) && $0.contains("grad_norm") }, "\(steps)")
        #expect(steps.filter { $0.contains("eval_accuracy") }.count == 2, "\(steps)")
        #expect(try RunSummary.read(from: twoRun.path)?.processes == 2)
    }
}
