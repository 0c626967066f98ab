import FuRATensor

// Legend: S slots (sequences), L layers, G key/value heads, P capacity (positions per slot), D head dim.

/// Preallocated keys and values for many sequences of different lengths, one slot per sequence.
///
/// Each layer holds values laid out (S, G, P, D) and keys in blocks of 16 positions,
/// (S, G, P/16, D, 16), so the scores of one query against 16 keys are one SIMD16 multiply-add per
/// dimension (`keyIndex`). P is rounded up to a multiple of 16 in the allocation. A slot's positions are 0..<length[slot]; a slot never sees another slot's rows, so
/// sequences of different lengths need no padding and no mask beyond causality.
public final class KVCache {
    public let layers: Int
    public let slots: Int
    public let keyValueHeads: Int
    public let headDim: Int
    /// P: the most positions a slot can hold.
    public let capacity: Int
    /// Positions filled per slot (S,).
    public var lengths: [Int]
    private let keys: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>

    /// Allocates S·L·G·P·D floats twice (keys and values); `lengths` start at 0.
    public init(layers: Int, slots: Int, keyValueHeads: Int, headDim: Int, capacity: Int) throws {
        guard layers > 0, slots > 0, keyValueHeads > 0, headDim > 0, capacity > 0 else {
            throw GenerationError.invalidOption(option: "cache", value: "layers \(layers), slots \(slots), capacity \(capacity)",
                                                reason: "every size must be positive")
        }
        self.layers = layers; self.slots = slots; self.keyValueHeads = keyValueHeads
        self.headDim = headDim; self.capacity = capacity
        lengths = [Int](repeating: 0, count: slots)
        let n = layers * slots * keyValueHeads * Self.blockedCapacity(capacity) * headDim
        keys = .allocate(capacity: n); keys.initialize(repeating: 0, count: n)
        values = .allocate(capacity: n); values.initialize(repeating: 0, count: n)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// A cache for `slots` sequences of at most `capacity` positions of `model`.
    public convenience init(model: CausalLM, slots: Int, capacity: Int) throws {
        try self.init(layers: model.blocks.count, slots: slots, keyValueHeads: model.config.numKeyValueHeads,
                      headDim: model.config.headDim, capacity: capacity)
    }

    /// Positions per key block.
    static let keyBlock = 16

    /// P rounded up to whole key blocks.
    static func blockedCapacity(_ capacity: Int) -> Int { (capacity + keyBlock - 1) / keyBlock * keyBlock }

    /// Bytes held (keys and values).
    public var byteCount: Int { 2 * layers * slots * keyValueHeads * Self.blockedCapacity(capacity) * headDim * MemoryLayout<Float>.stride }

    /// The keys (P/16, D, 16) of (layer, slot, head): element i of position p is at `keyIndex(p, i)`.
    @inline(__always) func keyBase(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<Float> {
        keys + (((layer * slots + slot) * keyValueHeads + head) * Self.blockedCapacity(capacity)) * headDim
    }

    /// Offset of element i of position p from `keyBase`.
    @inline(__always) func keyIndex(_ p: Int, _ i: Int) -> Int {
        (p / Self.keyBlock * headDim + i) * Self.keyBlock + p % Self.keyBlock
    }

    /// The first value row (P, D) of (layer, slot, head).
    @inline(__always) func valueBase(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<Float> {
        values + (((layer * slots + slot) * keyValueHeads + head) * Self.blockedCapacity(capacity)) * headDim
    }

    /// Copies the filled positions of slot `source` into slot `target` (every layer); lengths follow.
    public func copySlot(from source: Int, to target: Int) {
        precondition(source >= 0 && source < slots && target >= 0 && target < slots, "slot out of range")
        guard source != target else { return }
        let n = lengths[source] * headDim
        let blocked = Self.blockedCapacity(lengths[source]) * headDim
        for layer in 0..<layers {
            for head in 0..<keyValueHeads {
                // SAFETY: both ranges lie inside one (P', D) block of the allocation (P' = P rounded up
                // to 16); keys copy whole 16-position blocks, n ≤ blocked ≤ P'·D.
                keyBase(layer: layer, slot: target, head: head).update(from: keyBase(layer: layer, slot: source, head: head), count: blocked)
                valueBase(layer: layer, slot: target, head: head).update(from: valueBase(layer: layer, slot: source, head: head), count: n)
            }
        }
        lengths[target] = lengths[source]
    }

    /// Empties every slot (the memory stays allocated).
    public func reset() { lengths = [Int](repeating: 0, count: slots) }
}
