// Python `str` operations on Unicode code points, so that the reference's string handling
// (`replace`, `split`, `find`, indexing) has the same meaning here as in the Python it follows.

/// A string as a sequence of Unicode scalars (Python's code points), with the few `str` methods the
/// answer normalization needs, each with Python's semantics.
struct ScalarText: Equatable, CustomStringConvertible {
    var scalars: [Unicode.Scalar]

    init(_ string: String) { scalars = Array(string.unicodeScalars) }
    init(scalars: some Sequence<Unicode.Scalar>) { self.scalars = Array(scalars) }

    var description: String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    var count: Int { scalars.count }
    var isEmpty: Bool { scalars.isEmpty }

    /// Python `s.find(needle, start)`: the first index ≥ start where `needle` begins, or nil.
    func find(_ needle: ScalarText, from start: Int = 0) -> Int? {
        let n = needle.count, m = scalars.count
        if n == 0 { return start <= m ? start : nil }
        guard m >= n, start <= m - n else { return nil }
        var i = start
        while i <= m - n {
            if scalars[i] == needle.scalars[0] && matches(needle, at: i) { return i }
            i += 1
        }
        return nil
    }

    /// Python `s.rfind(needle)`: the last index where `needle` begins, or nil.
    func rfind(_ needle: ScalarText) -> Int? {
        let n = needle.count, m = scalars.count
        guard m >= n else { return nil }
        var i = m - n
        while i >= 0 {
            if matches(needle, at: i) { return i }
            i -= 1
        }
        return nil
    }

    /// Whether `needle` occurs at index `i`.
    func matches(_ needle: ScalarText, at i: Int) -> Bool {
        guard i >= 0, i + needle.count <= scalars.count else { return false }
        for j in 0..<needle.count where scalars[i + j] != needle.scalars[j] { return false }
        return true
    }

    func contains(_ needle: String) -> Bool { find(ScalarText(needle)) != nil }
    func hasPrefix(_ prefix: String) -> Bool { matches(ScalarText(prefix), at: 0) }
    func hasSuffix(_ suffix: String) -> Bool {
        let s = ScalarText(suffix)
        return matches(s, at: scalars.count - s.count)
    }

    /// Python `s.split(separator)` with a non-empty separator: all pieces, empty ones included.
    func split(_ separator: String) -> [ScalarText] {
        let sep = ScalarText(separator)
        precondition(!sep.isEmpty, "empty separator")
        var pieces: [ScalarText] = []
        var start = 0
        while let i = find(sep, from: start) {
            pieces.append(slice(start, i))
            start = i + sep.count
        }
        pieces.append(slice(start, scalars.count))
        return pieces
    }

    /// Python `s.replace(old, new)` with a non-empty `old`.
    func replacing(_ old: String, with new: String) -> ScalarText {
        let pieces = split(old)
        if pieces.count == 1 { return self }
        let joiner = ScalarText(new).scalars
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        for (k, piece) in pieces.enumerated() {
            if k > 0 { out.append(contentsOf: joiner) }
            out.append(contentsOf: piece.scalars)
        }
        return ScalarText(scalars: out)
    }

    /// Python `s[start:end]` with in-range, ordered bounds.
    func slice(_ start: Int, _ end: Int) -> ScalarText { ScalarText(scalars: scalars[start..<end]) }

    /// Python `s[start:]` (empty when start ≥ count).
    func suffix(from start: Int) -> ScalarText {
        start >= scalars.count ? ScalarText(scalars: []) : ScalarText(scalars: scalars[start...])
    }

    static func + (a: ScalarText, b: ScalarText) -> ScalarText { ScalarText(scalars: a.scalars + b.scalars) }
    static func + (a: String, b: ScalarText) -> ScalarText { ScalarText(a) + b }
    static func + (a: ScalarText, b: String) -> ScalarText { a + ScalarText(b) }
}

extension Unicode.Scalar {
    /// Python's `\d` and `str.isdecimal`: any scalar of general category Nd; its value 0…9.
    var decimalDigitValue: Int? {
        guard properties.numericType == .decimal, let v = properties.numericValue else { return nil }
        return Int(v)
    }
}
