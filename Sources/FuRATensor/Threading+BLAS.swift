extension Threading {
    /// Runs `body`; kept for callers that spread BLAS calls over `parallelFor` themselves.
    ///
    /// OpenBLAS is always single-threaded now (see `Threading`), so there is nothing to reconfigure:
    /// products inside a parallel region run on their own thread.
    public static func withBLASThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        try body()
    }

    /// `parallelFor` for bodies that call BLAS: each product stays on its worker's thread.
    public static func parallelForSerialBLAS(_ count: Int, minimumPerChunk: Int = 1, _ body: (Int, Int) -> Void) {
        parallelFor(count, minimumPerChunk: minimumPerChunk, body)
    }
}
