import ArgumentParser
import FuRATensor

@main
struct Fura: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fura",
        abstract: "Full-rank adaptation (FuRA) of language models through a lossless block tensor-train factorization.",
        version: furaVersion,
        subcommands: [InspectCommand.self, ScoreCommand.self, EvalCommand.self, MakeDataCommand.self, TokenizeCommand.self, PlanCommand.self, GenerateCommand.self, TrainCommand.self, GRPOCommand.self, MergeCommand.self, ExportCommand.self]
    )

    /// Sets up the process (allocator) and runs the parsed subcommand.
    static func main() {
        Allocator.keepFreedPages()
        main(nil)
    }
}
