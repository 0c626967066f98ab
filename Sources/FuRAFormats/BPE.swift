import Foundation

/// A byte string used as a dictionary key: hashed and compared as raw bytes (no Unicode normalization,
/// which makes `String` keys slow and would merge canonically equivalent tokens).
struct ByteKey: Hashable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ string: String) { bytes = Array(string.utf8) }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// Byte-level BPE: the vocabulary, the merge ranks, and the merge loop (a binary heap over adjacent pairs).
final class BytePairEncoder: @unchecked Sendable {
    /// Token id of each byte's byte-level scalar (or its `<0xXX>` byte-fallback token, or unk); -1 if none.
    let byteIds: [Int32]
    /// Byte-fallback tokens (`<0xXX>`) the encoder emits for bytes without a byte-level token, and their byte.
    let byteFallbackIds: [Int: UInt8]
    /// (left id << 32 | right id) → (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Emit a word that is itself a vocabulary token without merging (HF `ignore_merges`, Llama-3).
    let ignoreMerges: Bool
    /// Token UTF-8 bytes → id.
    let vocabulary: TokenTable
    /// The UTF-8 bytes of each byte's byte-level scalar.
    static let byteLevelUTF8: [[UInt8]] = ByteLevel.byteToScalar.map { Array(String($0).utf8) }
    private var cache: [ByteKey: [Int]] = [:]
    private let lock = NSLock()
    static let cacheLimit = 200_000

    /// Merge rules in rank order: lines "a b" (GGUF, tokenizer.json) or explicit pairs.
    enum Merges {
        case lines([String])
        case pairs([([UInt8], [UInt8])])

        var count: Int {
            switch self {
            case let .lines(l): return l.count
            case let .pairs(p): return p.count
            }
        }
    }

    init(vocabulary: TokenTable, merges rules: Merges, ignoreMerges: Bool, unknownId: Int?) {
        self.vocabulary = vocabulary
        self.ignoreMerges = ignoreMerges
        var fallback: [Int: UInt8] = [:]
        byteIds = (0..<256).map { b in
            if let id = vocabulary.find(Self.byteLevelUTF8[b]) { return Int32(id) }
            if let id = vocabulary.find(String(format: "<0x%02X>", b)) {
                fallback[id] = UInt8(b)
                return Int32(id)
            }
            return Int32(unknownId ?? -1)
        }
        byteFallbackIds = fallback
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(rules.count)
        func add(_ rank: Int, _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) {
            guard let left = vocabulary.find(a), let right = vocabulary.find(b), let merged = vocabulary.find(a, b) else { return }
            let key = UInt64(left) << 32 | UInt64(right)
            if table[key] == nil { table[key] = (Int32(rank), Int32(merged)) }
        }
        switch rules {
        case let .lines(lines):
            for (rank, line) in lines.enumerated() {
                var line = line
                line.withUTF8 { all in
                    guard let space = all.firstIndex(of: 0x20) else { return }
                    add(rank, UnsafeBufferPointer(rebasing: all[..<space]), UnsafeBufferPointer(rebasing: all[(space + 1)...]))
                }
            }
        case let .pairs(pairs):
            for (rank, (a, b)) in pairs.enumerated() {
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in add(rank, pa, pb) } }
            }
        }
        merges = table
    }

    /// The id of a whole word's byte-level form, if the vocabulary has it.
    func wholeWordId(_ bytes: [UInt8]) -> Int? {
        var key: [UInt8] = []
        key.reserveCapacity(bytes.count * 2)
        for b in bytes { key += Self.byteLevelUTF8[Int(b)] }
        return vocabulary.find(key)
    }

    /// The token ids of one pre-tokenized word (its UTF-8 bytes), through the cache.
    func encode(word: ArraySlice<UInt8>) -> [Int] {
        let key = ByteKey(Array(word))
        lock.lock()
        if let hit = cache[key] {
            lock.unlock()
            return hit
        }
        lock.unlock()
        let ids = encodeUncached(key.bytes)
        lock.lock()
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = ids
        lock.unlock()
        return ids
    }

    /// Applies merges by rank (lowest first; ties to the leftmost pair) to the byte symbols of `bytes`.
    func encodeUncached(_ bytes: [UInt8]) -> [Int] {
        if ignoreMerges, let id = wholeWordId(bytes) { return [id] }
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
        if ignoreMerges, let id = wholeWordId(bytes) { return [id] }
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
