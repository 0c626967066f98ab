import CBLAS
import Dispatch
import Synchronization

/// The threads of the process: one pool (ours) for matrix products and elementwise loops alike.
///
/// OpenBLAS always runs single-threaded; `BLAS.gemm` splits a large product into per-thread slices
/// itself. With two pools (OpenBLAS's spinning workers next to our loops) the idle pool's threads
/// spin against the busy one's on a small machine; with one pool every core does useful work.
public enum Threading {
    nonisolated(unsafe) private static var current = 1
    /// Parallel regions now running: loops and products inside one run on the calling thread.
    private static let activeRegions = Atomic<Int>(0)

    /// Sets the thread count of `parallelFor` and of `BLAS.gemm`'s slicing. Values below 1 become 1.
    public static func setThreadCount(_ count: Int) {
        current = max(1, count)
        openblas_set_num_threads(1)
    }

    /// The thread count in force.
    public static var threadCount: Int { current }

    /// True inside a `parallelFor` body: work started there stays on its thread.
    public static var insideParallelRegion: Bool { activeRegions.load(ordering: .relaxed) > 0 }

    /// Runs `body(start, end)` over `0..<count` split into at most `threadCount` contiguous chunks.
    ///
    /// Falls back to a plain call when one thread is set, the work is smaller than `minimumPerChunk`,
    /// or the caller is already inside a parallel region.
    public static func parallelFor(_ count: Int, minimumPerChunk: Int = 1, _ body: (Int, Int) -> Void) {
        guard count > 0 else { return }
        let chunks = min(current, max(1, count / max(1, minimumPerChunk)))
        if chunks <= 1 || insideParallelRegion {
            body(0, count)
            return
        }
        activeRegions.add(1, ordering: .relaxed)
        defer { activeRegions.subtract(1, ordering: .relaxed) }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let start = count * c / chunks
            let end = count * (c + 1) / chunks
            if start < end { body(start, end) }
        }
    }
}
