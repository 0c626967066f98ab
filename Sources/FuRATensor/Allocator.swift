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

    /// Returns the heap's free pages to the kernel (`malloc_trim`). With `keepFreedPages` nothing is ever trimmed, so
    /// call it after a phase whose transients will not come back: a conversion's dense weights and SVD workspaces
    /// are freed between the long-lived cores and would otherwise stay resident through training.
    public static func releaseFreePages() {
        _ = malloc_trim(0)
    }
}
