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
}
