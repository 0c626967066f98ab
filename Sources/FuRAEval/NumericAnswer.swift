/// Values of plain numeric answers (`-12`, `1,000.5`, `\frac{3}{4}`, `-\frac{1}{2}`, `3/4`) for the
/// numeric side of math equivalence. Works on normalized text (spaces already removed).
enum NumericAnswer {
    /// The value of `text`, or nil when it is not one of the plain numeric forms.
    static func value(of text: String) -> Double? {
        var s = Substring(text)
        var sign = 1.0
        if s.hasPrefix("-") { sign = -1; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        if s.hasPrefix("\\frac{") {
            let body = s.dropFirst(6)
            guard let close = body.firstIndex(of: "}") else { return nil }
            let numerator = body[..<close]
            let rest = body[body.index(after: close)...]
            guard rest.hasPrefix("{"), rest.hasSuffix("}"), rest.count >= 2 else { return nil }
            let denominator = rest.dropFirst().dropLast()
            guard let a = signedDecimal(numerator), let b = signedDecimal(denominator), b != 0 else { return nil }
            return sign * a / b
        }
        let slash = s.split(separator: "/", omittingEmptySubsequences: false)
        if slash.count == 2 {
            guard let a = signedDecimal(slash[0]), let b = signedDecimal(slash[1]), b != 0 else { return nil }
            return sign * a / b
        }
        return decimal(s).map { sign * $0 }
    }

    /// A decimal with an optional leading `-`.
    static func signedDecimal(_ s: Substring) -> Double? {
        s.hasPrefix("-") ? decimal(s.dropFirst()).map { -$0 } : decimal(s)
    }

    /// `123`, `1,234,567`, `12.5`, `5.`, `0.25` (ASCII digits; commas only as thousands groups).
    static func decimal(_ s: Substring) -> Double? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.allSatisfy(\.isASCIIDigit) else { return nil }
        let groups = whole.split(separator: ",", omittingEmptySubsequences: false)
        guard groups.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) else { return nil }
        if groups.count > 1 {
            guard groups[0].count <= 3, groups.dropFirst().allSatisfy({ $0.count == 3 }) else { return nil }
        }
        return Double(groups.joined() + (fraction.isEmpty ? "" : "." + fraction))
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && ("0"..."9").contains(self) }
}
