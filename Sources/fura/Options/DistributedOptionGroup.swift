import ArgumentParser
import Foundation
import FuRAMPI
import FuRATensor
import FuRATrain

/// How a run is shared over processes, shared by `fura train` and `fura grpo` (one declaration, one help text).
struct DistributedOptionGroup: ParsableArguments {
    @Option(help: """
        auto | mpi | none; auto takes Open MPI when mpirun started the process (`mpirun -np 2 fura train …`). Each process \
        runs --grad-accum micro-batches of every step; gradients are combined in a fixed order, so N processes × \
        grad-accum k train exactly as 1 process × grad-accum N·k. Rank 0 writes the files; --threads is per process \
        (default: the host's cores / its processes). fura grpo shares each step's prompts (whole groups) and micro-batches \
        over the processes and trains as one process with the same flags (bit for bit with --top-p < 1; see the README).
        """)
    var distributed = "auto"

    func validate() throws {
        guard ["auto", "mpi", "none"].contains(distributed) else { throw ValidationError(DistributedError.unknownTransport(distributed).description) }
    }

    /// Starts the collective: MPI when asked or started by mpirun; rank ≠ 0 then prints nothing to standard output
    /// (its errors still reach standard error) and its thread pool takes its share of the host's cores, unless
    /// `threads` is given.
    func start(threads: Int?) throws -> any Collective {
        let collective = try MPILaunch.collective(transport: distributed)
        guard collective.size > 1 else { return collective }
        if threads == nil {
            Threading.setThreadCount(MPILaunch.threadsPerProcess(cores: ProcessInfo.processInfo.activeProcessorCount))
        }
        if collective.rank != 0 { _ = freopen("/dev/null", "w", stdout) }
        return collective
    }
}
