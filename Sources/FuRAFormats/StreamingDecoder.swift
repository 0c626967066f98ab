/// Incremental decoding: `append(id)` returns the text that became complete (possibly empty).
public struct StreamingDecoder {
    let tokenizer: Tokenizer
    let skipSpecial: Bool
    var pending: [UInt8] = []

    init(tokenizer: Tokenizer, skipSpecial: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Adds one token and returns the newly complete text.
    public mutating func append(_ id: Int) -> String {
        if skipSpecial && tokenizer.specialTokenIds.contains(id) { return "" }
        pending += tokenizer.bytes(for: id)
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[0..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is still held back (an incomplete sequence), decoded with U+FFFD; clears the buffer.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of the prefix that ends on a UTF-8 boundary: a trailing lead byte whose sequence is
    /// not complete yet is held back (invalid bytes are let through, to be shown as U+FFFD).
    public static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var start = n - 1
        // Look back at most 3 continuation bytes for the lead byte of the last sequence.
        while start >= 0 && start >= n - 4 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0 && start >= n - 4 else { return n }
        let lead = bytes[start]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return n
        }
        return n - start < needed ? start : n
    }
}
