import Foundation

/// An open-addressing hash table from token bytes to ids, over one flat byte buffer.
///
/// Built for loading large vocabularies fast: no per-token allocation, and lookups of a concatenation
/// `a + b` (a merge's result) hash and compare the two parts in place.
struct TokenTable: Sendable {
    private var flat: [UInt8] = []
    private var offsets: [Int] = [0]
    private var slots: [Int32]
    private let mask: Int

    /// A table for up to `capacity` distinct tokens.
    init(capacity: Int) {
        var size = 16
        while size < 2 * max(1, capacity) { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    /// The bytes stored for `id` (ids are assigned in insertion order by `append`).
    func bytes(of id: Int) -> ArraySlice<UInt8> { flat[offsets[id]..<offsets[id + 1]] }

    /// FNV-1a over `a` then `b`.
    @inline(__always) static func hash(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in a { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// Stores the next id's bytes; `insert` then decides whether lookups find it.
    mutating func append(_ token: String) {
        flat.append(contentsOf: token.utf8)
        offsets.append(flat.count)
    }

    /// Makes lookups of `id`'s bytes return `id`; when another id has the same bytes, `replace` decides.
    mutating func insert(_ id: Int, replace: Bool) {
        let range = offsets[id]..<offsets[id + 1]
        flat.withUnsafeBufferPointer { all in
            let key = UnsafeBufferPointer(rebasing: all[range])
            var slot = Self.hash(key, UnsafeBufferPointer(start: nil, count: 0)) & mask
            while slots[slot] >= 0 {
                let other = Int(slots[slot])
                if Self.equal(all, offsets[other], offsets[other + 1] - offsets[other], key) {
                    if replace { slots[slot] = Int32(id) }
                    return
                }
                slot = (slot + 1) & mask
            }
            slots[slot] = Int32(id)
        }
    }

    /// The id whose bytes equal `a + b`.
    func find(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8> = UnsafeBufferPointer(start: nil, count: 0)) -> Int? {
        flat.withUnsafeBufferPointer { all in
            var slot = Self.hash(a, b) & mask
            while slots[slot] >= 0 {
                let id = Int(slots[slot])
                let start = offsets[id], end = offsets[id + 1]
                if end - start == a.count + b.count, Self.equal(all, start, a.count, a), Self.equal(all, start + a.count, b.count, b) {
                    return id
                }
                slot = (slot + 1) & mask
            }
            return nil
        }
    }

    /// Whether `all[start..<start+count]` equals `key` (`count` already checked against the slot's length).
    @inline(__always) static func equal(_ all: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard count == key.count else { return false }
        guard count > 0, let base = all.baseAddress, let k = key.baseAddress else { return true }
        // SAFETY: start..<start+count lies inside `all` (offsets come from `append`); key has `count` bytes.
        return memcmp(base + start, k, count) == 0
    }

    /// The id of a byte array.
    func find(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBufferPointer { find($0) } }

    /// The id of a string's UTF-8 bytes.
    func find(_ string: String) -> Int? { find(Array(string.utf8)) }
}
