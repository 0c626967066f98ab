import Foundation

extension YAMLSubset {
    /// The values that fit on one line: plain and quoted scalars, inline lists, `{}`.
    enum Scalars {
        /// The value of `text` (a whole line's value, comment removed).
        static func inline(_ text: Substring, fail: (String) -> YAMLError) throws -> Any {
            if text.first == "[" {
                guard text.last == "]" else { throw fail("an inline list must end with \"]\" on the same line") }
                return try flowList(text.dropFirst().dropLast(), fail: fail)
            }
            if text.first == "{" {
                guard text.dropFirst().dropLast().allSatisfy({ $0 == " " }), text.last == "}" else {
                    throw fail("inline mappings other than {} are not supported; write the members as indented lines")
                }
                return [String: Any]()
            }
            if text.first == "\"" || text.first == "'" {
                let (value, rest) = try quoted(text, fail: fail)
                guard rest.allSatisfy({ $0 == " " }) else { throw fail("unexpected text after the quoted string: \(rest)") }
                return value
            }
            for c in ["&", "*", "!", "|", ">", "%", "@", "`"] where text.hasPrefix(c) {
                throw fail("\"\(c)\" (anchors, aliases, tags, block strings) is not supported; quote the value")
            }
            return plain(String(text))
        }

        /// Items of an inline list (text between the brackets), split at commas outside quotes and brackets.
        static func flowList(_ body: Substring, fail: (String) -> YAMLError) throws -> [Any] {
            var items: [Substring] = []
            var quote: Character?, depth = 0
            var start = body.startIndex, i = body.startIndex
            while i < body.endIndex {
                let c = body[i]
                if let q = quote {
                    if c == "\\" && q == "\"" { i = body.index(after: i); if i == body.endIndex { break } } else if c == q { quote = nil }
                } else if c == "\"" || c == "'" {
                    quote = c
                } else if c == "[" {
                    depth += 1
                } else if c == "]" {
                    depth -= 1
                } else if c == "," && depth == 0 {
                    items.append(body[start..<i]); start = body.index(after: i)
                }
                i = body.index(after: i)
            }
            guard quote == nil, depth == 0 else { throw fail("unbalanced quotes or brackets in an inline list") }
            items.append(body[start...])
            let trimmed = items.map { $0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed() }.map { Substring(String($0)) }
            if trimmed.count == 1 && trimmed[0].isEmpty { return [] }
            if trimmed.last?.isEmpty == true && trimmed.count > 1 { return try trimmed.dropLast().map { try item($0, fail: fail) } }
            return try trimmed.map { try item($0, fail: fail) }
        }

        static func item(_ text: Substring, fail: (String) -> YAMLError) throws -> Any {
            guard !text.isEmpty else { throw fail("an empty item in an inline list") }
            return try inline(text, fail: fail)
        }

        /// A quoted string at the start of `text` and what follows its closing quote.
        static func quoted(_ text: Substring, fail: (String) -> YAMLError) throws -> (String, Substring) {
            guard let q = text.first else { throw fail("expected a quoted string") }
            var out = ""
            var i = text.index(after: text.startIndex)
            while i < text.endIndex {
                let c = text[i]
                if q == "'" {
                    if c == "'" {
                        let next = text.index(after: i)
                        if next < text.endIndex && text[next] == "'" { out.append("'"); i = text.index(after: next); continue }
                        return (out, text[next...])
                    }
                    out.append(c)
                } else if c == "\"" {
                    return (out, text[text.index(after: i)...])
                } else if c == "\\" {
                    i = text.index(after: i)
                    guard i < text.endIndex else { break }
                    switch text[i] {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "0": out.append("\0")
                    case "\\": out.append("\\")
                    case "\"": out.append("\"")
                    case "/": out.append("/")
                    case "u":
                        let hex = text[text.index(after: i)...].prefix(4)
                        guard hex.count == 4, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                            throw fail("\\u needs four hex digits of a valid code point")
                        }
                        out.unicodeScalars.append(scalar)
                        i = text.index(i, offsetBy: 4)
                    default: throw fail("unknown escape \\\(text[i]) in a double-quoted string")
                    }
                } else {
                    out.append(c)
                }
                i = text.index(after: i)
            }
            throw fail("a quoted string is not closed on its line (multi-line strings are not supported)")
        }

        /// A plain scalar: null, bool, integer, float, or else the string itself.
        static func plain(_ s: String) -> Any {
            switch s {
            case "null", "Null", "NULL", "~": return NSNull()
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            case ".inf", ".Inf", ".INF", "+.inf": return Double.infinity
            case "-.inf", "-.Inf", "-.INF": return -Double.infinity
            case ".nan", ".NaN", ".NAN": return Double.nan
            default: break
            }
            if let i = Int(s) { return i }
            let digits = s.drop { $0 == "+" || $0 == "-" }
            if let first = digits.first, first.isNumber || (first == "." && digits.dropFirst().first?.isNumber == true),
               s.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }), let d = Double(s) {
                return d
            }
            return s
        }
    }
}
