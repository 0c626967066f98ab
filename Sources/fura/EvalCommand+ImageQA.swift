import ArgumentParser
import Foundation
import FuRA
import FuRAEval
import FuRAFormats
import FuRAModels
import FuRATrain

extension EvalCommand {
    /// `--task image-qa`: greedy answers about each record's image, exact match and yes/no F1.
    func runImageQA() throws {
        let started = Date()
        guard dataFiles.count == 1, let data = dataFiles.first else { throw EvalCommandError.unpaired("--data", 1, dataFiles.count) }
        guard let model else { throw EvalCommandError.badOption("--model", "(none)", "a model file or directory") }
        let settings = try imageOptions.settings(adapter: adapter)
        let (loaded, tokenizer) = try loadModelWithTokenizer(model, adapter: adaptsLanguageModel(adapter) ? adapter : nil,
                                                             threads: threads, purpose: "image question answering")
        let sft = try sftTokenizer(tokenizer, model: model, purpose: "image question answering")
        let setup = try MultimodalRunSetup(settings: settings, language: loaded.model, tokenizer: sft, seed: 0)
        var questions = try setup.data.questions(path: data)
        if let limit { questions = Array(questions.prefix(max(0, limit))) }
        let needed = Set(questions.flatMap { $0.prompt.compactMap { if case let .image(source, _) = $0 { return source } else { return nil } } })
        let (images, towerSeconds) = try setup.computeFeatures(only: needed.sorted())
        FileHandle.standardError.write(Data(String(format: "vision tower: %d images in %.1f s\n", images, towerSeconds).utf8))
        let isTerminal = isatty(STDERR_FILENO) != 0
        let answering = Date()
        let (result, records) = try ImageQA.evaluate(
            model: setup.model, questions: questions, tokenizer: sft, decode: { tokenizer.decode($0, skipSpecial: true) },
            stop: tokenizer.turnEndIds, maxNewTokens: min(maxNewTokens, 32), batchSize: batchSize) { done, total in
                FileHandle.standardError.write(Data(((isTerminal ? "\r" : "") + "image-qa \(done)/\(total)" + (isTerminal && done < total ? "" : "\n")).utf8))
            }
        if let output {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let lines = try records.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
            do { try AtomicWrite.write(Data(lines.utf8), to: output) } catch { throw EvalCommandError.unwritable(output, ErrorText.file(error)) }
        }
        let seconds = Date().timeIntervalSince(started)
        if json {
            let report: [String: Any] = [
                "model": model, "adapter": adapter as Any, "task": "image-qa", "seconds": seconds,
                "tower_seconds": towerSeconds, "answer_seconds": Date().timeIntervalSince(answering),
                "tasks": [try JSONSerialization.jsonObject(with: JSONEncoder().encode(result))],
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        } else {
            print("image-qa: \(model)\(adapter.map { " + \($0)" } ?? "")  (\(String(format: "%.0f", seconds)) s)")
            func percent(_ x: Double?) -> String { x.map { String(format: "%.1f", 100 * $0) } ?? "-" }
            print("|task    |   n|accuracy|open n|open acc|yes/no n|yes/no acc|yes/no F1|")
            print("|--------|---:|-------:|-----:|-------:|-------:|---------:|--------:|")
            print("|image-qa|\(result.n)|\(percent(result.accuracy))|\(result.openN)|\(percent(result.openAccuracy))|"
                + "\(result.yesNoN)|\(percent(result.yesNoAccuracy))|\(percent(result.yesNoF1))|")
        }
    }
}
