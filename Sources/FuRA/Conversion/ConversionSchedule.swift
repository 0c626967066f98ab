import FuRATensor
import Synchronization

/// Dynamic scheduling of independent jobs of uneven size (the modules of a conversion) over `Threading`'s threads.
enum ConversionSchedule {
    /// Calls `body(i)` once for every `i` of `order`, on up to `Threading.threadCount` threads: each thread takes the
    /// next index of `order` as soon as it is free, so listing the largest jobs first balances the threads.
    ///
    /// Work that `body` starts with `Threading.parallelFor` runs on its own thread (one parallel region at a time).
    static func forEach(_ order: [Int], _ body: (Int) -> Void) {
        let next = Atomic<Int>(0)
        Threading.parallelFor(min(Threading.threadCount, order.count)) { _, _ in
            while true {
                let k = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard k < order.count else { return }
                body(order[k])
            }
        }
    }
}
