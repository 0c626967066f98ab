import ArgumentParser
import Foundation
import FuRAEval

/// `fura make-data`: writes a generated task in the LLM-Adapters format (for demos and smoke runs).
struct MakeDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-data",
        abstract: "Write a generated true/false task (LLM-Adapters JSON) that `fura train` and `fura eval --task boolq` read.")

    @Option(help: "Task: \(SyntheticTask.allCases.map(\.rawValue).joined(separator: ", ")).")
    var task: String = SyntheticTask.parity.rawValue

    @Option(help: "Number of records.")
    var count: Int = 1000

    @Option(help: "Seed of the generator (different seeds give disjoint-looking splits).")
    var seed: UInt64 = 1

    @Option(help: "Output JSON file.")
    var output: String

    func run() throws {
        guard let kind = SyntheticTask(rawValue: task) else {
            throw ValidationError("--task \(task) is unknown; use one of \(SyntheticTask.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
        let url = URL(fileURLWithPath: output)
        try kind.json(count: count, seed: seed).write(to: url, options: .atomic)
        print("wrote \(count) \(kind.rawValue) records to \(output)")
    }
}
