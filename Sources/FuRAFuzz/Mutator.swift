/// Deterministic mutations of an input, the kinds that broke the loaders before: flipped bits, boundary bytes and
/// integers written over sizes and counts, cut and repeated ranges, truncation, and, in text, numbers, values and keys
/// replaced by extremes (`1e308`, `64.5`, `-1`, `null`, 2^62, a 100 kB key).
public struct Mutator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// SplitMix64.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<n (n ≥ 1).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    static let boundaryBytes: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFF]
    static let boundaryIntegers: [UInt64] = [0, 1, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 40, 1 << 62,
                                             UInt64(Int64.max), UInt64.max]
    static let textValues = ["-1", "0", "1e308", "-1e308", "64.5", "4611686018427387904", "1e-320", "null", "true", "\"\"",
                             "\"x\"", "[]", "{}", "NaN", "[1e308, -1]", "18446744073709551616"]

    /// One to three mutations of `input`; `text` adds the token-level ones.
    public mutating func mutate(_ input: [UInt8], text: Bool) -> [UInt8] {
        var bytes = input
        for _ in 0...below(3) { bytes = mutateOnce(bytes, text: text) }
        return bytes
    }

    mutating func mutateOnce(_ input: [UInt8], text: Bool) -> [UInt8] {
        var bytes = input
        guard !bytes.isEmpty else { return [Self.boundaryBytes[below(Self.boundaryBytes.count)]] }
        let kinds = text ? 9 : 6
        switch below(kinds) {
        case 0:
            bytes[below(bytes.count)] ^= UInt8(1 << below(8))
        case 1:
            bytes[below(bytes.count)] = Self.boundaryBytes[below(Self.boundaryBytes.count)]
        case 2:
            let width = below(2) == 0 ? 4 : 8
            let at = below(bytes.count)
            let value = Self.boundaryIntegers[below(Self.boundaryIntegers.count)]
            for k in 0..<width where at + k < bytes.count { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
        case 3:
            let at = below(bytes.count), length = 1 + below(16)
            bytes.removeSubrange(at..<min(bytes.count, at + length))
        case 4:
            let at = below(bytes.count), length = 1 + below(32)
            bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + length)], at: below(bytes.count))
        case 5:
            bytes.removeLast(below(bytes.count))
        case 6, 7:
            bytes = replaceToken(bytes, by: Self.textValues[below(Self.textValues.count)])
        default:
            // A huge key or string where a short one was.
            bytes = replaceToken(bytes, by: "\"" + String(repeating: "k", count: 100_000) + "\"")
        }
        return bytes
    }

    /// Replaces one number, string or literal of a JSON/YAML text by `replacement`.
    mutating func replaceToken(_ bytes: [UInt8], by replacement: String) -> [UInt8] {
        var starts: [Int] = []
        var inString = false
        for (i, b) in bytes.enumerated() {
            if b == UInt8(ascii: "\"") {
                if !inString { starts.append(i) }
                inString.toggle()
            } else if !inString, (b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39)), i == 0 || !Self.isTokenByte(bytes[i - 1]) {
                starts.append(i)
            }
        }
        guard !starts.isEmpty else { return bytes }
        let start = starts[below(starts.count)]
        var end = start + 1
        if bytes[start] == UInt8(ascii: "\"") {
            while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += 1 }
            end = min(end + 1, bytes.count)
        } else {
            while end < bytes.count, Self.isTokenByte(bytes[end]) { end += 1 }
        }
        var out = Array(bytes[..<start])
        out += Array(replacement.utf8)
        out += bytes[end...]
        return out
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-")
            || b == UInt8(ascii: "+")
    }
}
