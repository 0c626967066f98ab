import ArgumentParser
import Foundation
import FuRATensor

@main
struct Fura: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fura",
        abstract: "Full-rank adaptation (FuRA) of language models through a lossless block tensor-train factorization.",
        version: furaVersion,
        subcommands: [InspectCommand.self, ScoreCommand.self, EvalCommand.self, MakeDataCommand.self, TokenizeCommand.self, PlanCommand.self, GenerateCommand.self, ChatCommand.self, TrainCommand.self, GRPOCommand.self, MergeCommand.self, ExportCommand.self, MakeModelCommand.self, CompareCommand.self]
    )

    /// Sets up the process (allocator; our thread pool on every core, OpenBLAS kept at one thread so there is a
    /// single pool — a command's `--threads` narrows it; standard output flushed at every line, so progress reaches
    /// `| tee` and log files as it happens) and runs the parsed subcommand.
    static func main() {
        setvbuf(stdout, nil, _IOLBF, 0)
        Allocator.keepFreedPages()
        Threading.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
        main(nil)
    }
}
