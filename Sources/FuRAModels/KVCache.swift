import FuRATensor

// Legend: S slots (sequences), L layers, G key/value heads, P capacity (positions per slot), D head dim.

/// Preallocated keys and values for many sequences of different lengths, one slot per sequence.
///
/// Each layer holds keys in blocks of 16 positions, (S, G, P/16, D, 16), so the scores of one query
/// against 16 keys are one SIMD16 multiply-add per dimension (`keyIndex`), and values in chunks of 16
/// dimensions, (S, G, D/16, P, 16), so a pass over one chunk of every position streams contiguous
/// memory (`valueIndex`; a D that is not a multiple of 16 is one chunk of D). P is rounded up to a multiple of 16 in the allocation. A slot's positions are 0..<length[slot]; a slot never sees another slot's rows, so
/// sequences of different lengths need no padding and no mask beyond causality.
///
/// A slot may read its first positions (whole 16-position blocks) from another slot's storage
/// (`shareSlot`): the samples of one prompt then read the prompt's keys and values from one place,
/// which stays in cache while they run back to back. Writes always go to the slot's own storage.
///
/// Keys and values are f32 by default (exact); `float16` halves the bytes attention reads per step
/// (an opt-in: rounding to f16 changes logits by ~1e-3 and may change tokens).
public final class KVCache {
    /// How keys and values are held.
    public enum Precision: String, Sendable, CaseIterable, Codable {
        case float32 = "f32"
        case float16 = "f16"
    }

    public let layers: Int
    public let slots: Int
    public let keyValueHeads: Int
    public let headDim: Int
    /// P: the most positions a slot can hold.
    public let capacity: Int
    /// Positions filled per slot (S,).
    public var lengths: [Int]
    public let precision: Precision
    private let keys: UnsafeMutableRawPointer
    private let values: UnsafeMutableRawPointer
    /// Per slot: the slot whose storage holds its positions 0..<sharedPositions[slot] (itself when none).
    public private(set) var sources: [Int]
    /// Per slot: positions read from `sources[slot]` (a multiple of 16; 0 when none).
    public private(set) var sharedPositions: [Int]
    /// Per slot: the most positions other slots read from its storage (its writes below this must
    /// first give those slots their own copies).
    private(set) var pinnedPositions: [Int]

    /// Allocates S·L·G·P·D elements twice (keys and values); `lengths` start at 0.
    public init(layers: Int, slots: Int, keyValueHeads: Int, headDim: Int, capacity: Int, precision: Precision = .float32) throws {
        guard layers > 0, slots > 0, keyValueHeads > 0, headDim > 0, capacity > 0 else {
            throw GenerationError.invalidOption(option: "cache", value: "layers \(layers), slots \(slots), capacity \(capacity)",
                                                reason: "every size must be positive")
        }
        self.layers = layers; self.slots = slots; self.keyValueHeads = keyValueHeads
        self.headDim = headDim; self.capacity = capacity; self.precision = precision
        lengths = [Int](repeating: 0, count: slots)
        sources = Array(0..<slots)
        sharedPositions = [Int](repeating: 0, count: slots)
        pinnedPositions = [Int](repeating: 0, count: slots)
        let bytes = layers * slots * keyValueHeads * Self.blockedCapacity(capacity) * headDim * (precision == .float16 ? 2 : 4)
        keys = .allocate(byteCount: bytes, alignment: 64); keys.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        values = .allocate(byteCount: bytes, alignment: 64); values.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// A cache for `slots` sequences of at most `capacity` positions of `model`.
    public convenience init(model: CausalLM, slots: Int, capacity: Int, precision: Precision = .float32) throws {
        try self.init(layers: model.blocks.count, slots: slots, keyValueHeads: model.config.numKeyValueHeads,
                      headDim: model.config.headDim, capacity: capacity, precision: precision)
    }

    /// Positions per key block.
    static let keyBlock = 16

    /// P rounded up to whole key blocks.
    static func blockedCapacity(_ capacity: Int) -> Int { (capacity + keyBlock - 1) / keyBlock * keyBlock }

    /// Bytes held (keys and values).
    public var byteCount: Int { 2 * layers * slots * keyValueHeads * Self.blockedCapacity(capacity) * headDim * elementSize }

    /// Bytes per stored element.
    var elementSize: Int { precision == .float16 ? 2 : 4 }

    /// Elements before the block of (layer, slot, head).
    @inline(__always) func offset(layer: Int, slot: Int, head: Int) -> Int {
        (((layer * slots + slot) * keyValueHeads + head) * Self.blockedCapacity(capacity)) * headDim
    }

    /// The keys (P/16, D, 16) of (layer, slot, head) of an f32 cache: element i of position p is at `keyIndex(p, i)`.
    @inline(__always) func keyBase(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<Float> {
        keyBase(Float.self, layer: layer, slot: slot, head: head)
    }

    /// The keys of (layer, slot, head) as elements of type E (Float for f32, Float16 for f16 caches).
    @inline(__always) func keyBase<E>(_ type: E.Type, layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<E> {
        keys.assumingMemoryBound(to: E.self) + offset(layer: layer, slot: slot, head: head)
    }

    /// The values of (layer, slot, head) as elements of type E.
    @inline(__always) func valueBase<E>(_ type: E.Type, layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<E> {
        values.assumingMemoryBound(to: E.self) + offset(layer: layer, slot: slot, head: head)
    }

    /// Offset of element i of position p from `keyBase`.
    @inline(__always) func keyIndex(_ p: Int, _ i: Int) -> Int {
        (p / Self.keyBlock * headDim + i) * Self.keyBlock + p % Self.keyBlock
    }

    /// The values (D/16, P', 16) of (layer, slot, head) of an f32 cache: element i of position p is at `valueIndex(p, i)`.
    @inline(__always) func valueBase(layer: Int, slot: Int, head: Int) -> UnsafeMutablePointer<Float> {
        valueBase(Float.self, layer: layer, slot: slot, head: head)
    }

    /// Dimensions per value chunk: 16, or D when D is not a multiple of 16.
    var valueChunk: Int { headDim % 16 == 0 ? 16 : headDim }

    /// Offset of element i of position p from `valueBase`.
    @inline(__always) func valueIndex(_ p: Int, _ i: Int) -> Int {
        let w = valueChunk
        return (i / w * Self.blockedCapacity(capacity) + p) * w + i % w
    }

    /// Whether any slot reads positions from another slot.
    public var hasSharedSlots: Bool { sharedPositions.contains { $0 > 0 } }

    /// Copies the filled positions of slot `source` into slot `target` (every layer); lengths follow.
    /// The target gets its own copy of everything (also what the source reads from another slot).
    public func copySlot(from source: Int, to target: Int) {
        precondition(source >= 0 && source < slots && target >= 0 && target < slots, "slot out of range")
        guard source != target else { return }
        release(target)
        let length = lengths[source], root = sources[source], shared = sharedPositions[source]
        // SAFETY: every range lies inside one (P', D) block of the allocation (P' = P rounded up to 16);
        // keys copy whole 16-position blocks, shared ≤ length ≤ P.
        copyPositions(from: root, to: target, 0..<shared)
        copyPositions(from: source, to: target, shared..<length)
        lengths[target] = length
    }

    /// Lets slot `target` read slot `source`'s filled whole key blocks (positions 0..<16·⌊length/16⌋)
    /// from `source`'s storage instead of a copy, and copies the rest; lengths follow. Reads of the
    /// target then give exactly what `copySlot` would have given. If `source` itself reads from
    /// another slot, the target reads the same positions from that slot.
    public func shareSlot(from source: Int, to target: Int) {
        precondition(source >= 0 && source < slots && target >= 0 && target < slots, "slot out of range")
        guard source != target else { return }
        release(target)
        let length = lengths[source], root = sources[source]
        let shared = root == source ? length / Self.keyBlock * Self.keyBlock : sharedPositions[source]
        guard shared > 0, root != target else { return copySlot(from: source, to: target) }
        copyPositions(from: source, to: target, shared..<length)
        sources[target] = root
        sharedPositions[target] = shared
        pinnedPositions[root] = max(pinnedPositions[root], shared)
        lengths[target] = length
    }

    /// Makes a write to `slot` at `position` safe: slots reading that position from `slot`'s storage
    /// get their own copies first.
    public func prepareWrite(slot: Int, position: Int) {
        guard position < pinnedPositions[slot] else { return }
        for s in 0..<slots where s != slot && sources[s] == slot { materialize(s) }
        pinnedPositions[slot] = 0
    }

    /// Before `slot`'s whole content is replaced: slots reading from it get copies, and it stops
    /// reading from another slot.
    private func release(_ slot: Int) {
        prepareWrite(slot: slot, position: 0)
        sources[slot] = slot
        sharedPositions[slot] = 0
    }

    /// Copies the positions `slot` reads from another slot into its own storage.
    private func materialize(_ slot: Int) {
        copyPositions(from: sources[slot], to: slot, 0..<sharedPositions[slot])
        sources[slot] = slot
        sharedPositions[slot] = 0
    }

    /// Copies positions `range` of `source`'s own storage into `target`'s (every layer and head); keys
    /// are copied in whole 16-position blocks, so `range.lowerBound` must be a multiple of 16.
    private func copyPositions(from source: Int, to target: Int, _ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let k0 = range.lowerBound / Self.keyBlock * Self.keyBlock
        let keyCount = (Self.blockedCapacity(range.upperBound) - k0) * headDim
        let (w, e) = (valueChunk, elementSize)
        for layer in 0..<layers {
            for head in 0..<keyValueHeads {
                // SAFETY: range.upperBound ≤ P ≤ P', so every range lies inside one (P', D) block.
                let (to, from) = (offset(layer: layer, slot: target, head: head) * e, offset(layer: layer, slot: source, head: head) * e)
                (keys + to + k0 * headDim * e).copyMemory(from: keys + from + k0 * headDim * e, byteCount: keyCount * e)
                for c in 0..<(headDim / w) {
                    let start = valueIndex(range.lowerBound, c * w) * e
                    (values + to + start).copyMemory(from: values + from + start, byteCount: range.count * w * e)
                }
            }
        }
    }

    /// Key j of (layer, slot, head), element i, wherever it is stored (the reference read path).
    func key(layer: Int, slot: Int, head: Int, position j: Int, _ i: Int) -> Float {
        let owner = j < sharedPositions[slot] ? sources[slot] : slot
        if precision == .float16 { return Float(keyBase(Float16.self, layer: layer, slot: owner, head: head)[keyIndex(j, i)]) }
        return keyBase(layer: layer, slot: owner, head: head)[keyIndex(j, i)]
    }

    /// Value j of (layer, slot, head), element i, wherever it is stored (the reference read path).
    func value(layer: Int, slot: Int, head: Int, position j: Int, _ i: Int) -> Float {
        let owner = j < sharedPositions[slot] ? sources[slot] : slot
        if precision == .float16 { return Float(valueBase(Float16.self, layer: layer, slot: owner, head: head)[valueIndex(j, i)]) }
        return valueBase(layer: layer, slot: owner, head: head)[valueIndex(j, i)]
    }

    /// Empties every slot (the memory stays allocated).
    public func reset() {
        lengths = [Int](repeating: 0, count: slots)
        sources = Array(0..<slots)
        sharedPositions = [Int](repeating: 0, count: slots)
        pinnedPositions = [Int](repeating: 0, count: slots)
    }
}
