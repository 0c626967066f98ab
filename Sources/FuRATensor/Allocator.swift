import CBLAS

/// Settings of the C allocator for training-sized tensors.
public enum Allocator {
    /// Keeps freed large blocks in the heap for reuse instead of returning them to the kernel.
    ///
    /// glibc serves blocks above the mmap threshold with fresh `mmap`s and trims the heap top on
    /// free, so a training step that allocates the same tens of megabytes of activations each time
    /// page-faults and zero-fills all of them every step. Raising both thresholds lets the second
    /// step reuse the first step's pages. Peak RSS is unchanged; RSS stays near the peak until exit.
    public static func keepFreedPages() {
        _ = mallopt(M_MMAP_THRESHOLD, 512 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, Int32.max)
    }
}
