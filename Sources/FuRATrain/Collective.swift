/// The processes of a data-parallel run and the few collective operations training needs: each process
/// learns its rank and the world size, and one process's buffer can be broadcast to all. The training
/// room sees only this seam; Open MPI's implementation lives in `FuRAMPI` (a GPU/NCCL one could stand
/// beside it).
///
/// Every process must call the same collective operations in the same order with the same counts.
public protocol Collective: AnyObject {
    /// This process's index, 0..<size; rank 0 writes the run's files.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// Replaces `values` on every process by rank `root`'s (the counts must agree).
    func broadcast(_ values: inout [Float], root: Int) throws
    /// Replaces `values` on every process by rank `root`'s (the counts must agree).
    func broadcast(_ values: inout [Double], root: Int) throws
    /// Ends the transport; called once by every process after its last collective operation.
    func finish() throws
}

extension Collective {
    /// Whether this process writes metrics, checkpoints and adapters.
    public var writesFiles: Bool { rank == 0 }

    /// Every process's `values` (counts may differ), in rank order, on every process: each rank broadcasts its count,
    /// then its values.
    public func gather(_ values: [Double]) throws -> [[Double]] {
        guard size > 1 else { return [values] }
        return try (0..<size).map { root in
            var count = [Double(root == rank ? values.count : 0)]
            try broadcast(&count, root: root)
            var theirs = root == rank ? values : [Double](repeating: 0, count: Int(count[0]))
            try broadcast(&theirs, root: root)
            return theirs
        }
    }
}

/// One process alone: rank 0 of 1; a broadcast leaves the buffer as it is.
public final class SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func broadcast(_ values: inout [Float], root: Int) throws {}
    public func broadcast(_ values: inout [Double], root: Int) throws {}
    public func finish() throws {}
}
