import CBLAS

extension Threading {
    /// `parallelFor` for bodies that call BLAS: OpenBLAS runs single-threaded inside the loop so the
    /// workers do not oversubscribe the cores, and gets the full thread count back afterwards.
    public static func parallelForSerialBLAS(_ count: Int, minimumPerChunk: Int = 1, _ body: (Int, Int) -> Void) {
        let n = threadCount
        if n > 1 { openblas_set_num_threads(1) }
        parallelFor(count, minimumPerChunk: minimumPerChunk, body)
        if n > 1 { openblas_set_num_threads(Int32(n)) }
    }

    /// Runs `body` with OpenBLAS limited to `count` threads, then restores `threadCount`.
    ///
    /// For work that is parallel at a coarser grain (many small factorizations spread by `parallelFor`),
    /// where each BLAS/LAPACK call should stay on its own thread.
    /// A no-op when `threadCount` is 1 (nothing runs in parallel then, and OpenBLAS must not be reconfigured while
    /// other threads may be inside it).
    public static func withBLASThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        guard threadCount > 1, count != threadCount else { return try body() }
        openblas_set_num_threads(Int32(max(1, count)))
        defer { openblas_set_num_threads(Int32(threadCount)) }
        return try body()
    }
}
