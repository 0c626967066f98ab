import FuRATensor

/// An element type a `KVCache` stores keys and values in: f32 (exact) or f16 (half the bytes); the loads live with
/// the attention kernels in `FuRATensor` (`SIMD16Loadable`).
typealias KVCacheElement = SIMD16Loadable
