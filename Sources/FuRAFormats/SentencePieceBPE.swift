import Foundation

/// SentencePiece-style BPE over a GGUF `llama` vocabulary (Gemma): spaces become `▁`, the whole text
/// is one word, adjacent pieces merge while their concatenation is a token, and characters outside the
/// vocabulary fall back to `<0xXX>` byte tokens.
///
/// With merge rules (a `tokenizer.json`) the pair of lowest rank merges first, as in HF BPE. Without
/// (a GGUF file) the order is transformers' for Gemma GGUF files: the pair whose merged token comes
/// first in the file merges first (Gemma's scores do not follow its merge order), ties going to the
/// longer left piece. Ties then go to the leftmost pair. Tokens that are runs of real spaces are looked
/// up as runs of `▁`.
final class SentencePieceBPE: @unchecked Sendable {
    static let spaceMark = Array("\u{2581}".utf8)
    /// Respelled token bytes → id (the last id wins, as in transformers' vocabulary dict).
    let vocabulary: TokenTable
    /// Byte b's `<0xXX>` token, or the unknown id, or -1.
    let byteIds: [Int32]
    /// `<0xXX>` token id → its byte.
    let byteFallbackIds: [Int: UInt8]
    /// Whether a `▁` is put before the text (`tokenizer.ggml.add_space_prefix`).
    let addSpacePrefix: Bool
    /// (left id << 32 | right id) → rank, from merge rules; empty: rank by the merged token's id.
    let ranks: [UInt64: Int32]

    /// - Parameter merges: rules "a b" in rank order (`tokenizer.json`); none for a GGUF vocabulary.
    init(tokens: [String], unknownId: Int?, addSpacePrefix: Bool, merges: [(String, String)] = []) {
        var table = TokenTable(capacity: tokens.count)
        for token in tokens { table.append(Self.respell(token)) }
        for id in tokens.indices { table.insert(id, replace: true) }
        vocabulary = table
        var fallback: [Int: UInt8] = [:]
        byteIds = (0..<256).map { b in
            if let id = table.find(String(format: "<0x%02X>", b)) { fallback[id] = UInt8(b); return Int32(id) }
            return Int32(unknownId ?? -1)
        }
        byteFallbackIds = fallback
        self.addSpacePrefix = addSpacePrefix
        var ranks: [UInt64: Int32] = [:]
        for (rank, (a, b)) in merges.enumerated() {
            guard let l = table.find(a), let r = table.find(b) else { continue }
            let key = UInt64(l) << 32 | UInt64(r)
            if ranks[key] == nil { ranks[key] = Int32(rank) }
        }
        self.ranks = ranks
    }

    /// A token of two or more real spaces is spelled with `▁` (as the text will be).
    static func respell(_ token: String) -> String {
        token.count >= 2 && token.allSatisfy({ $0 == " " }) ? String(repeating: "\u{2581}", count: token.count) : token
    }

    /// The text's bytes with every space as `▁` (and one in front when asked).
    func normalize(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = addSpacePrefix ? Self.spaceMark : []
        out.reserveCapacity(bytes.count + 8)
        for b in bytes { if b == 0x20 { out += Self.spaceMark } else { out.append(b) } }
        return out
    }

    /// Token ids of one text segment (no added tokens inside).
    func encode(_ text: ArraySlice<UInt8>) -> [Int] {
        let s = normalize(text)
        guard !s.isEmpty else { return [] }
        // Pieces as byte ranges of s, in a doubly linked list; id -1 marks a character outside the vocabulary.
        var start: [Int] = [], end: [Int] = [], id: [Int] = []
        var i = 0
        while i < s.count {
            let width = Self.utf8Width(s[i])
            let e = min(s.count, i + width)
            start.append(i); end.append(e)
            id.append(s.withUnsafeBufferPointer { vocabulary.find(UnsafeBufferPointer(rebasing: $0[i..<e])) } ?? -1)
            i = e
        }
        let n = start.count
        var previous = Array(-1..<(n - 1)), next = Array(1...n)
        next[n - 1] = -1
        var alive = [Bool](repeating: true, count: n)
        // Candidate merges keyed (merged id, −left length, left position); stale ones are skipped when popped.
        var heap = MinHeap()
        func consider(_ left: Int) {
            let right = next[left]
            guard right >= 0, id[left] >= 0, id[right] >= 0 else { return }
            let merged = s.withUnsafeBufferPointer { p in
                vocabulary.find(UnsafeBufferPointer(rebasing: p[start[left]..<end[left]]), UnsafeBufferPointer(rebasing: p[start[right]..<end[right]]))
            }
            guard let merged else { return }
            var priority = merged, leftLength = end[left] - start[left]
            if !ranks.isEmpty {
                guard let rank = ranks[UInt64(id[left]) << 32 | UInt64(id[right])] else { return }
                priority = Int(rank); leftLength = 0
            }
            heap.push(.init(priority: priority, leftLength: leftLength, left: left, rightEnd: end[right], merged: merged))
        }
        for k in 0..<(n - 1) { consider(k) }
        while let c = heap.pop() {
            let right = next[c.left]
            guard alive[c.left], right >= 0, end[right] == c.rightEnd, id[c.left] >= 0,
                  c.leftLength == 0 || end[c.left] - start[c.left] == c.leftLength else { continue }
            end[c.left] = end[right]; id[c.left] = c.merged
            alive[right] = false
            next[c.left] = next[right]
            if next[right] >= 0 { previous[next[right]] = c.left }
            if previous[c.left] >= 0 { consider(previous[c.left]) }
            consider(c.left)
        }
        var out: [Int] = []
        var k = 0
        while k >= 0 {
            if id[k] >= 0 { out.append(id[k]) } else { for b in s[start[k]..<end[k]] { out.append(Int(byteIds[Int(b)])) } }
            k = next[k]
        }
        return out
    }

    /// The text of token `id` (`▁` as a space, `<0xXX>` as its byte).
    func bytes(of token: String, id: Int) -> [UInt8] {
        if let b = byteFallbackIds[id] { return [b] }
        var out: [UInt8] = []
        let u = Array(token.utf8), mark = Self.spaceMark
        var i = 0
        while i < u.count {
            if i + 3 <= u.count, u[i] == mark[0], u[i + 1] == mark[1], u[i + 2] == mark[2] { out.append(0x20); i += 3 } else { out.append(u[i]); i += 1 }
        }
        return out
    }

    static func utf8Width(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    /// A binary min-heap of merge candidates.
    struct MinHeap {
        struct Candidate {
            var priority: Int, leftLength: Int, left: Int, rightEnd: Int, merged: Int
            func before(_ o: Candidate) -> Bool {
                (priority, -leftLength, left) < (o.priority, -o.leftLength, o.left)
            }
        }
        var items: [Candidate] = []

        mutating func push(_ c: Candidate) {
            items.append(c)
            var i = items.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                guard items[i].before(items[p]) else { break }
                items.swapAt(i, p); i = p
            }
        }

        mutating func pop() -> Candidate? {
            guard let top = items.first else { return nil }
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var i = 0
                while true {
                    let (l, r) = (2 * i + 1, 2 * i + 2)
                    var m = i
                    if l < items.count, items[l].before(items[m]) { m = l }
                    if r < items.count, items[r].before(items[m]) { m = r }
                    if m == i { break }
                    items.swapAt(i, m); i = m
                }
            }
            return top
        }
    }
}
