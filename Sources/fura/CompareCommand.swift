import ArgumentParser
import Foundation
import FuRAEval
import FuRAFormats

/// `fura compare`: runs side by side in one HTML page or a Markdown table.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Put runs side by side: methods and settings, trainable parameters, speed, memory, loss curves and eval tables.",
        discussion: """
        Each RUN_DIR is a `fura train`/`fura grpo --output` directory (config.json, summary.json, metrics.jsonl) with, for \
        the accuracy table, the eval.json that `fura eval --adapter RUN_DIR` saves there; a directory holding only the \
        eval.json of `fura eval --model M --run-dir DIR` stands for the base model. The first run is the reference of the \
        "Δ Avg" column. --format html (default) writes one self-contained page with inline SVG charts; md a Markdown table.
        """)

    @Argument(help: "Run directories, the reference first.")
    var runs: [String] = []

    @Option(help: "Write the report here (default: print it).")
    var output: String?

    @Option(help: "html or md.")
    var format: String = "html"

    func run() throws {
        guard format == "html" || format == "md" else { throw ValidationError("--format \(format): expected html or md") }
        do {
            let comparison = try RunComparison(runs: try runs.map { try ComparedRun(directory: $0) })
            let text = format == "html" ? comparison.html() : comparison.markdown()
            if let output {
                do { try AtomicWrite.write(Data(text.utf8), to: output) } catch {
                    throw ValidationError("cannot write \(output) (\(ErrorText.file(error)))")
                }
                print("wrote \(output): \(comparison.runs.count) runs, \(comparison.tasks.count) evaluated tasks")
            } else {
                print(text, terminator: "")
            }
        } catch let error as ReportError {
            throw ValidationError(error.description)
        }
    }
}
