/// The pre-tokenizer splits text into words before BPE, as the regexes of the model families do.
///
/// Hand-written equivalents (over Unicode scalars) of:
/// - `gpt2`: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// - `smollm` (llama.cpp's `smollm`, also StarCoder): every `\p{N}` split off alone first, then `gpt2`
///   (HF: `Sequence[Digits(individual_digits), ByteLevel(use_regex)]`)
/// - `llama3`: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
/// - `qwen2`: as `llama3` with `\p{N}` (one digit) instead of `\p{N}{1,3}`
public enum PreTokenizer: String, Sendable, CaseIterable {
    case gpt2, smollm, llama3, qwen2

    /// The pre-tokenizer for llama.cpp's `tokenizer.ggml.pre` name; nil when unknown.
    public init?(ggmlPre name: String) {
        switch name {
        case "gpt-2", "gpt2", "default", "mpt", "olmo", "jais": self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva": self = .smollm
        case "llama3", "llama-bpe", "llama-v3", "falcon3", "pixtral", "dbrx", "smaug-bpe": self = .llama3
        case "qwen2", "stablelm2", "deepseek-r1-qwen", "megrez": self = .qwen2
        default: return nil
        }
    }

    /// The `tokenizer.ggml.pre` name llama.cpp gives this pre-tokenizer (what an exported GGUF must say: llama.cpp
    /// refuses `gpt2`, its name is `gpt-2`).
    public var ggmlName: String {
        switch self {
        case .gpt2: return "gpt-2"
        case .smollm: return "smollm"
        case .llama3: return "llama-bpe"
        case .qwen2: return "qwen2"
        }
    }

    /// Character classes the patterns test.
    enum Kind: UInt8 { case letter, number, space, newline, otherWhitespace, other }

    static let asciiKinds: [Kind] = (0..<128).map { v in
        let s = Unicode.Scalar(UInt8(v))
        if v == 10 || v == 13 { return .newline }
        if v == 32 { return .space }
        if (9...12).contains(v) { return .otherWhitespace }
        if (65...90).contains(v) || (97...122).contains(v) { return .letter }
        if (48...57).contains(v) { return .number }
        return s.properties.isWhitespace ? .otherWhitespace : .other
    }

    static func kind(_ s: Unicode.Scalar) -> Kind {
        if s.value < 128 { return asciiKinds[Int(s.value)] }
        if s.properties.isWhitespace { return .otherWhitespace }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Splits `scalars` into word ranges that cover it exactly, in order.
    public func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let kinds = scalars.map(Self.kind)
        var out: [Range<Int>] = []
        switch self {
        case .gpt2: Self.splitGPT2(scalars, kinds, 0..<scalars.count, into: &out)
        case .smollm:
            var start = 0
            for i in 0..<scalars.count where kinds[i] == .number {
                Self.splitGPT2(scalars, kinds, start..<i, into: &out)
                out.append(i..<(i + 1))
                start = i + 1
            }
            Self.splitGPT2(scalars, kinds, start..<scalars.count, into: &out)
        case .llama3: Self.splitLlama3(scalars, kinds, maxDigits: 3, into: &out)
        case .qwen2: Self.splitLlama3(scalars, kinds, maxDigits: 1, into: &out)
        }
        return out
    }

    /// The length of a contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at `i`, or 0.
    static func contraction(_ s: [Unicode.Scalar], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard s[i] == "'", i + 1 < end else { return 0 }
        func lower(_ k: Int) -> Unicode.Scalar {
            let c = s[k]
            return caseInsensitive && (65...90).contains(c.value) ? Unicode.Scalar(c.value + 32) ?? c : c
        }
        let a = lower(i + 1)
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        guard i + 2 < end else { return 0 }
        let b = lower(i + 2)
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        return 0
    }

    static func isWhitespace(_ k: Kind) -> Bool { k == .space || k == .newline || k == .otherWhitespace }
    static func isOther(_ k: Kind) -> Bool { k == .other }

    /// The end of the run of `predicate` starting at `i` (exclusive), bounded by `end`.
    static func run(_ kinds: [Kind], from i: Int, _ end: Int, _ predicate: (Kind) -> Bool) -> Int {
        var j = i
        while j < end && predicate(kinds[j]) { j += 1 }
        return j
    }

    /// Ends a whitespace run at `i` as `\s+(?!\S)|\s+` do: all of it at the end of the text or when it is one
    /// scalar long, otherwise all but its last scalar (which then leads the next word).
    static func whitespaceEnd(_ kinds: [Kind], _ i: Int, _ end: Int) -> Int {
        let j = run(kinds, from: i, end, isWhitespace)
        if j == end || j - i == 1 { return j }
        return j - 1
    }

    static func splitGPT2(_ s: [Unicode.Scalar], _ kinds: [Kind], _ range: Range<Int>, into out: inout [Range<Int>]) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            var j: Int
            let c = contraction(s, i, end, caseInsensitive: false)
            let k = kinds[i]
            let next: Kind? = i + 1 < end ? kinds[i + 1] : nil
            if c > 0 {
                j = i + c
            } else if k == .letter || (k == .space && next == .letter) {
                j = run(kinds, from: k == .space ? i + 1 : i, end) { $0 == .letter }
            } else if k == .number || (k == .space && next == .number) {
                j = run(kinds, from: k == .space ? i + 1 : i, end) { $0 == .number }
            } else if k == .other || (k == .space && next == .other) {
                j = run(kinds, from: k == .space ? i + 1 : i, end, isOther)
            } else {
                j = whitespaceEnd(kinds, i, end)
            }
            out.append(i..<j)
            i = j
        }
    }

    static func splitLlama3(_ s: [Unicode.Scalar], _ kinds: [Kind], maxDigits: Int, into out: inout [Range<Int>]) {
        var i = 0
        let end = s.count
        while i < end {
            var j: Int
            let c = contraction(s, i, end, caseInsensitive: true)
            let k = kinds[i]
            let next: Kind? = i + 1 < end ? kinds[i + 1] : nil
            if c > 0 {
                j = i + c
            } else if k == .letter || (k != .newline && k != .number && next == .letter) {
                // [^\r\n\p{L}\p{N}]?\p{L}+
                j = run(kinds, from: k == .letter ? i : i + 1, end) { $0 == .letter }
            } else if k == .number {
                j = i + 1
                while j < end && j - i < maxDigits && kinds[j] == .number { j += 1 }
            } else if k == .other || (k == .space && next == .other) {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                j = run(kinds, from: k == .space ? i + 1 : i, end, isOther)
                j = run(kinds, from: j, end) { $0 == .newline }
            } else {
                // Whitespace: `\s*[\r\n]+` up to the run's last newline, else `\s+(?!\S)|\s+`.
                let runEnd = run(kinds, from: i, end, isWhitespace)
                if let lastNewline = (i..<runEnd).last(where: { kinds[$0] == .newline }) {
                    j = lastNewline + 1
                } else {
                    j = whitespaceEnd(kinds, i, end)
                }
            }
            out.append(i..<j)
            i = j
        }
    }
}
