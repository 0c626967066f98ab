/// A data-parallel run that cannot go on.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// An MPI call failed (a peer that died, a network error).
    case mpiFailed(call: String, code: Int, message: String)
    /// `--distributed` named no known transport.
    case unknownTransport(String)
    /// `--distributed none` under mpirun: each process would train alone into the same run directory.
    case independentCopies(processes: Int)

    public var description: String {
        switch self {
        case let .mpiFailed(call, code, message):
            return "\(call) failed with MPI error \(code) (\(message)); another process of the run has probably stopped — see mpirun's report, then rerun with --resume"
        case let .unknownTransport(value):
            return "--distributed \(value): expected auto, mpi or none"
        case let .independentCopies(processes):
            return "--distributed none under mpirun would run \(processes) independent copies writing the same run directory; "
                + "drop --distributed none (the processes then share the run) or start one process without mpirun"
        }
    }
}
