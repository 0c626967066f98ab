import ArgumentParser
import Foundation
import FuRATensor

@main
struct Fura: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fura",
        abstract: "Full-rank adaptation (FuRA) of language models through a lossless block tensor-train factorization.",
        version: furaVersion,
        subcommands: [InspectCommand.self, ScoreCommand.self, EvalCommand.self, MakeDataCommand.self, TokenizeCommand.self, PlanCommand.self, GenerateCommand.self, TrainCommand.self, GRPOCommand.self, MergeCommand.self, ExportCommand.self, CompareCommand.self]
    )

    /// Sets up the process (allocator; our thread pool on every core, OpenBLAS kept at one thread so there is a
    /// single pool — a command's `--threads` narrows it) and runs the parsed subcommand.
    static func main() {
        Allocator.keepFreedPages()
        Threading.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
        main(nil)
    }
}
