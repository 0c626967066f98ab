import Foundation
import FuRATrain

/// How this process was started: by Open MPI's `mpirun` (seen in its environment) or alone, and the `Collective`
/// that follows from `--distributed`.
public enum MPILaunch {
    /// The processes of the job when mpirun started this one (`OMPI_COMM_WORLD_SIZE`), else nil.
    public static var worldSize: Int? { value("OMPI_COMM_WORLD_SIZE") }

    /// The processes of the job on this host (`OMPI_COMM_WORLD_LOCAL_SIZE`), else nil.
    public static var localSize: Int? { value("OMPI_COMM_WORLD_LOCAL_SIZE") }

    /// The collective for `transport`: `auto` (MPI when mpirun started this process, else one process), `mpi`, `none`.
    public static func collective(transport: String) throws -> any Collective {
        switch transport {
        case "auto": return worldSize == nil ? SingleProcess() : try MPICollective()
        case "mpi": return try MPICollective()
        case "none":
            // mpirun's processes, each alone, would all write the same run directory.
            if let size = worldSize, size > 1 { throw DistributedError.independentCopies(processes: size) }
            return SingleProcess()
        default: throw DistributedError.unknownTransport(transport)
        }
    }

    /// This process's share of the host's cores: cores / processes on this host (at least 1).
    public static func threadsPerProcess(cores: Int) -> Int {
        max(1, cores / max(1, localSize ?? 1))
    }

    private static func value(_ name: String) -> Int? {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) }
    }
}
