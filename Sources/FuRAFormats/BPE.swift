import Foundation

/// Byte-level BPE: the vocabulary, the merge ranks, and the merge loop (a binary heap over adjacent pairs).
final class BytePairEncoder: @unchecked Sendable {
    /// Token id of each byte's byte-level scalar (or its `<0xXX>` byte-fallback token, or unk); -1 if none.
    let byteIds: [Int32]
    /// (left id << 32 | right id) → (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Emit a word that is itself a vocabulary token without merging (HF `ignore_merges`, Llama-3).
    let ignoreMerges: Bool
    let vocabulary: [String: Int]
    private var cache: [String: [Int]] = [:]
    private let lock = NSLock()
    static let cacheLimit = 200_000

    init(vocabulary: [String: Int], merges pairs: [(String, String)], ignoreMerges: Bool, unknownId: Int?) {
        self.vocabulary = vocabulary
        self.ignoreMerges = ignoreMerges
        byteIds = (0..<256).map { b in
            if let id = vocabulary[String(ByteLevel.byteToScalar[b])] { return Int32(id) }
            if let id = vocabulary[String(format: "<0x%02X>", b)] { return Int32(id) }
            return Int32(unknownId ?? -1)
        }
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(pairs.count)
        for (rank, (a, b)) in pairs.enumerated() {
            guard let left = vocabulary[a], let right = vocabulary[b], let merged = vocabulary[a + b] else { continue }
            let key = UInt64(left) << 32 | UInt64(right)
            if table[key] == nil { table[key] = (Int32(rank), Int32(merged)) }
        }
        merges = table
    }

    /// The token ids of one pre-tokenized word (its UTF-8 bytes), through the cache.
    func encode(word: Substring) -> [Int] {
        let key = String(word)
        lock.lock()
        if let hit = cache[key] {
            lock.unlock()
            return hit
        }
        lock.unlock()
        let ids = encodeUncached(Array(word.utf8))
        lock.lock()
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = ids
        lock.unlock()
        return ids
    }

    /// Applies merges by rank (lowest first; ties to the leftmost pair) to the byte symbols of `bytes`.
    func encodeUncached(_ bytes: [UInt8]) -> [Int] {
        if ignoreMerges, let id = vocabulary[ByteLevel.encode(bytes)] { return [id] }
        var ids = bytes.map { byteIds[Int($0)] }
        let n = ids.count
        if n <= 1 { return ids.filter { $0 >= 0 }.map(Int.init) }
        var next = Array(1...n), prev = Array(-1..<(n - 1))
        var heap = PairHeap()
        for i in 0..<(n - 1) { push(&heap, ids, i, i + 1) }
        while let top = heap.pop() {
            let i = top.position, j = next[i]
            // Skip stale entries: the left symbol was merged away or either side changed since the push.
            guard ids[i] == top.left, j < n, ids[j] == top.right else { continue }
            ids[i] = top.merged
            ids[j] = -2
            next[i] = next[j]
            if next[j] < n { prev[next[j]] = i }
            if prev[i] >= 0 { push(&heap, ids, prev[i], i) }
            if next[i] < n { push(&heap, ids, i, next[i]) }
        }
        var out: [Int] = []
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            if ids[i] >= 0 { out.append(Int(ids[i])) }
            i = next[i]
        }
        return out
    }

    /// The simple twin of `encodeUncached`: repeatedly merges the lowest-ranked (then leftmost) adjacent pair.
    func encodeReference(_ bytes: [UInt8]) -> [Int] {
        if ignoreMerges, let id = vocabulary[ByteLevel.encode(bytes)] { return [id] }
        var ids = bytes.map { byteIds[Int($0)] }.filter { $0 >= 0 }
        while ids.count > 1 {
            var best: (rank: Int32, position: Int, id: Int32)?
            for i in 0..<(ids.count - 1) {
                if let m = merges[UInt64(ids[i]) << 32 | UInt64(ids[i + 1])], best == nil || m.rank < best!.rank {
                    best = (m.rank, i, m.id)
                }
            }
            guard let b = best else { break }
            ids[b.position] = b.id
            ids.remove(at: b.position + 1)
        }
        return ids.map(Int.init)
    }

    @inline(__always) private func push(_ heap: inout PairHeap, _ ids: [Int32], _ i: Int, _ j: Int) {
        let (l, r) = (ids[i], ids[j])
        guard l >= 0, r >= 0, let m = merges[UInt64(l) << 32 | UInt64(r)] else { return }
        heap.push(.init(rank: m.rank, position: i, left: l, right: r, merged: m.id))
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
struct PairHeap {
    struct Entry {
        var rank: Int32
        var position: Int
        var left: Int32, right: Int32, merged: Int32
        @inline(__always) func precedes(_ o: Entry) -> Bool { rank != o.rank ? rank < o.rank : position < o.position }
    }

    private var items: [Entry] = []

    mutating func push(_ e: Entry) {
        items.append(e)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard items[c].precedes(items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Entry? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count && items[l].precedes(items[m]) { m = l }
                if r < items.count && items[r].precedes(items[m]) { m = r }
                if m == p { break }
                items.swapAt(p, m)
                p = m
            }
        }
        return first
    }
}
