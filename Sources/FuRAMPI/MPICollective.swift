import CMPI
import FuRATrain

/// The processes `mpirun` started, as a `Collective` over Open MPI's `MPI_COMM_WORLD`: ranks and broadcasts are
/// MPI's own. A process that dies ends the whole job (mpirun kills the others and names the rank that died).
public final class MPICollective: Collective {
    public let rank: Int
    public let size: Int
    private let world = fura_mpi_comm_world()

    /// Initializes MPI (once per process; a process started without mpirun is a world of one).
    public init() throws {
        var provided: Int32 = 0
        try Self.check(MPI_Init_thread(nil, nil, fura_mpi_thread_serialized(), &provided), "MPI_Init_thread")
        try Self.check(MPI_Comm_set_errhandler(world, fura_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try Self.check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try Self.check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    public func broadcast(_ values: inout [Float], root: Int) throws {
        try broadcast(&values, type: fura_mpi_float(), root: root)
    }

    public func broadcast(_ values: inout [Double], root: Int) throws {
        try broadcast(&values, type: fura_mpi_double(), root: root)
    }

    public func finish() throws {
        try Self.check(MPI_Finalize(), "MPI_Finalize")
    }

    /// MPI_Bcast in pieces that fit its 32-bit count.
    private func broadcast<T>(_ values: inout [T], type: MPI_Datatype, root: Int) throws {
        let piece = 1 << 30
        try values.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for start in stride(from: 0, to: buffer.count, by: piece) {
                let count = Int32(min(piece, buffer.count - start))
                // SAFETY: start + count ≤ buffer.count, and every rank passes a buffer of the same count.
                try Self.check(MPI_Bcast(base + start, count, type, Int32(root), world), "MPI_Bcast from rank \(root)")
            }
        }
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code != fura_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        _ = MPI_Error_string(code, &text, &length)
        throw DistributedError.mpiFailed(call: call, code: Int(code), message: String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
