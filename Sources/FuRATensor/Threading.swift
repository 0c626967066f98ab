import CBLAS
import Dispatch

/// The number of threads used by OpenBLAS and by our own parallel loops, set together.
public enum Threading {
    nonisolated(unsafe) private static var current = 1

    /// Sets the thread count for OpenBLAS and `parallelFor`. Values below 1 become 1.
    public static func setThreadCount(_ count: Int) {
        let n = max(1, count)
        current = n
        openblas_set_num_threads(Int32(n))
    }

    /// The thread count in force.
    public static var threadCount: Int { current }

    /// Runs `body(start, end)` over `0..<count` split into at most `threadCount` contiguous chunks.
    ///
    /// Falls back to a plain call when one thread is set or the work is smaller than `minimumPerChunk`.
    public static func parallelFor(_ count: Int, minimumPerChunk: Int = 1, _ body: (Int, Int) -> Void) {
        guard count > 0 else { return }
        let chunks = min(current, max(1, count / max(1, minimumPerChunk)))
        if chunks <= 1 {
            body(0, count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let start = count * c / chunks
            let end = count * (c + 1) / chunks
            if start < end { body(start, end) }
        }
    }
}
