import ArgumentParser
import FuRAFormats
import Foundation
import FuRA
import FuRAEval
import FuRAModels
import FuRATensor

/// `fura eval`: scores a model (or saved completions) on commonsense and math suites.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate on commonsense (BoolQ, PIQA, SIQA, HellaSwag, WinoGrande, ARC-e, ARC-c, OBQA) and math suites.",
        discussion: """
        Give one --data file (LLM-Adapters JSON: instruction, input, output, answer) per --task, in the same order.
        Tasks: \(EvalTask.allCases.map { $0.rawValue }.joined(separator: ", ")), and image-qa (LLaVA records with images: \
        --data DIR/data.json --image-folder DIR --adapter A, where A is a visual run's adapter; exact match, yes/no F1).
        --protocol generate prompts the model, extracts the answer (first answer word; last number for gsm8k;
        last \\boxed{} for math) and compares it with the gold; --protocol loglikelihood scores each candidate
        "the correct answer is X" and reports acc and acc_norm. --completions grades saved completions instead
        of running a model (one file per task: a JSON array of strings, or of objects with "output").
        """)

    @Option(help: "Base model: HF directory or GGUF file.")
    var model: String?

    @Option(help: "Adapter directory to apply to the base model.")
    var adapter: String?

    @Option(name: .customLong("task"), help: "Task name (repeat, one per --data).")
    var tasks: [String] = []

    @Option(name: .customLong("data"), help: "LLM-Adapters JSON file of the task at the same position (repeat).")
    var dataFiles: [String] = []

    @Option(name: .customLong("completions"), help: "Saved completions of the task at the same position (repeat); replaces --model.")
    var completionFiles: [String] = []

    @Option(name: .customLong("protocol"), help: "generate or loglikelihood.")
    var evalProtocol: String = EvalProtocol.generate.rawValue

    @Option(help: "Evaluate only the first N questions of each task.")
    var limit: Int?

    @Option(help: "Prompts searched together (generate), questions packed into one scoring step (loglikelihood), or sequences per batch (--no-prefix-cache).")
    var batchSize: Int = 32

    @Option(help: "Generation length (the reference uses 256).")
    var maxNewTokens: Int = 256

    @Option(help: "Beams of beam search (the reference uses 4).")
    var numBeams: Int = 4

    @Option(help: "Write one JSON line per question (prompt, output, extracted, gold, correct) to this file.")
    var output: String?

    @Flag(help: "Print the report as JSON (model, adapter, protocol, tasks[i].accuracy, average) instead of a table.")
    var json = false

    @Option(help: "Also save the report as DIR/eval.json for `fura compare` (default: the run directory of --adapter, when it names one).")
    var runDir: String?

    @Option(help: "Threads for BLAS and attention (default: all cores).")
    var threads: Int?

    @Option(help: "Engine weights for scoring and generation: f32 (default, exact), bf16, q8, gguf (the file's own blocks), bf16-compute (bf16 arithmetic on AVX512-BF16: fastest, log-probs move by ~1e-2), or llama-cpp (a Llama-family .gguf scored in llama.cpp's arithmetic: q8 activations, f16 attention).")
    var precision: GenerationWeightPrecision = .float32

    @OptionGroup(title: "Images (--task image-qa)") var imageOptions: ImageOptionGroup

    @Flag(help: "Log-likelihood: run every (question, candidate) sequence in full, in --batch-size batches, instead of running each prompt once and reusing its keys and values.")
    var noPrefixCache = false

    func run() throws {
        if tasks == [ImageQA.taskName] { return try runImageQA() }
        let started = Date()
        guard let evalProtocol = EvalProtocol(rawValue: evalProtocol.lowercased()) else {
            throw EvalCommandError.badOption("--protocol", evalProtocol, "generate or loglikelihood")
        }
        guard !tasks.isEmpty else { throw EvalCommandError.badOption("--task", "(none)", "at least one --task with its --data") }
        guard tasks.count == dataFiles.count else { throw EvalCommandError.unpaired("--data", tasks.count, dataFiles.count) }
        guard completionFiles.isEmpty || completionFiles.count == tasks.count else {
            throw EvalCommandError.unpaired("--completions", tasks.count, completionFiles.count)
        }
        let runner = EvalRunner(evalProtocol: evalProtocol, limit: limit, batchSize: batchSize,
                                maxNewTokens: maxNewTokens, numBeams: numBeams)
        var suites: [EvalSuite] = []
        for (name, path) in zip(tasks, dataFiles) {
            guard let task = EvalTask(name: name) else { throw EvalCommandError.unknownTask(name) }
            suites.append(EvalSuite(task: task, examples: try EvalData.load(path: path, task: task)))
        }
        let backends: EvalBackends
        if !completionFiles.isEmpty {
            guard model == nil else { throw EvalCommandError.badOption("--model", model ?? "", "absent when --completions is given") }
            var completions: [String] = []
            for (suite, file) in zip(suites, completionFiles) {
                let n = limit.map { min($0, suite.examples.count) } ?? suite.examples.count
                let saved = try Self.readCompletions(file)
                guard saved.count >= n else { throw EvalCommandError.badCompletions(file, "has \(saved.count) completions, the task needs \(n)") }
                completions += saved.prefix(n)
            }
            backends = EvalBackends(generator: ReplayGenerator(completions: completions))
        } else {
            guard let model else { throw EvalCommandError.badOption("--model", "(none)", "a model file or directory, or --completions") }
            if let threads { Threading.setThreadCount(threads) }
            backends = try Self.loadBackends(model: model, adapter: adapter, prefixCache: !noPrefixCache, precision: precision)
        }

        let isTerminal = isatty(STDERR_FILENO) != 0
        var rate = EvalRate()
        let (summary, records) = try runner.run(suites: suites, backends: backends) { p in
            let line = rate.line(p, now: Date().timeIntervalSinceReferenceDate)
            FileHandle.standardError.write(Data(((isTerminal ? "\r" : "") + line + (isTerminal && p.done < p.total ? "" : "\n")).utf8))
        }
        if let output { try Self.writeRecords(records, to: output) }
        let report = EvalReport(model: model, adapter: adapter.map(AdapterFiles.resolveDirectory), protocol: evalProtocol,
                                limit: limit, seconds: Date().timeIntervalSince(started), summary: summary)
        if json {
            print(String(decoding: try report.json(), as: UTF8.self))
        } else {
            print(report.header)
            print(report.lmEvalTable)
            print()
            print(summary.table(label: adapter == nil ? (model.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "completions") : "adapter"))
        }
        if let directory = runDir ?? adapter.flatMap(Self.runDirectory) {
            do {
                let path = try report.write(into: directory)
                FileHandle.standardError.write(Data("saved \(path)\n".utf8))
            } catch {
                throw EvalCommandError.unwritable(URL(fileURLWithPath: directory).appendingPathComponent(EvalReport.fileName).path,
                                                  ErrorText.file(error))
            }
        }
    }

    /// The run directory an `--adapter` path names (`fura train --output`, holding `adapter/`), or nil for a bare adapter.
    static func runDirectory(of adapter: String) -> String? {
        AdapterFiles.resolveDirectory(adapter) == adapter ? nil : adapter
    }

    /// The tokenizer, scorer and generator of a model (with an adapter applied when given).
    static func loadBackends(model: String, adapter: String? = nil, prefixCache: Bool,
                             precision: GenerationWeightPrecision = .float32) throws -> EvalBackends {
        let loaded = try ModelLoader.load(path: model)
        if let adapter { try applyAdapter(adapter, to: loaded) }
        guard let tokenizer = loaded.tokenizer else {
            throw ModelError.unsupported(source: model, what: "evaluation", reason: "the model has no tokenizer")
        }
        let padId = tokenizer.padId ?? tokenizer.eosId ?? 0
        var backends = EvalBackends(tokenizer: TokenizerEncoder(tokenizer: tokenizer), scorer: ModelScorer(model: loaded.model),
                                    prefixScorer: nil, padId: padId)
        // One engine (packed weights) serves scoring and generation.
        let engine = try GenerationModel(model: loaded.model, precision: precision, gguf: loaded.gguf)
        if prefixCache { backends.prefixScorer = PackedModelScorer(engine: engine) }
        backends.generator = ModelTextGenerator(engine: engine, tokenizer: tokenizer)
        return backends
    }

    /// Completions saved as a JSON array of strings or of objects with "output", or as JSON lines of such objects.
    static func readCompletions(_ path: String) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw EvalCommandError.badCompletions(path, "cannot be read (\(ErrorText.file(error)))")
        }
        func text(_ item: Any, _ index: Int) throws -> String {
            if let s = item as? String { return s }
            if let o = item as? [String: Any], let s = o["output"] as? String { return s }
            throw EvalCommandError.badCompletions(path, "entry \(index) is neither a string nor an object with a string \"output\"")
        }
        if let array = try? JSONSerialization.jsonObject(with: data) as? [Any] {
            return try array.enumerated().map { try text($1, $0) }
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        return try lines.enumerated().map { i, line in
            guard let item = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
                throw EvalCommandError.badCompletions(path, "line \(i + 1) is not JSON; expected a JSON array or JSON lines")
            }
            return try text(item, i)
        }
    }

    /// Writes one JSON object per line, through a temporary file renamed into place.
    static func writeRecords(_ records: [EvalRecord], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for record in records {
            data.append(try encoder.encode(record))
            data.append(0x0A)
        }
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw EvalCommandError.unwritable(path, ErrorText.file(error))
        }
    }
}

/// Bad flags or files of `fura eval`.
enum EvalCommandError: Error, CustomStringConvertible {
    case badOption(String, String, String)
    case unpaired(String, Int, Int)
    case unknownTask(String)
    case badCompletions(String, String)
    case unwritable(String, String)

    var description: String {
        switch self {
        case let .badOption(name, value, expected): "\(name) is \(value); expected \(expected)."
        case let .unpaired(name, tasks, count): "\(count) \(name) for \(tasks) --task; give one \(name) per --task, in the same order."
        case let .unknownTask(name):
            "unknown task \"\(name)\"; known: \(EvalTask.allCases.map(\.rawValue).joined(separator: ", "))."
        case let .badCompletions(path, why): "\(path): \(why)."
        case let .unwritable(path, why): "cannot write \(path) (\(why))."
        }
    }
}
