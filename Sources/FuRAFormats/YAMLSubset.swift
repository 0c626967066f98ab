import Foundation

/// A YAML syntax error, naming the file and the 1-based line.
public struct YAMLError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var line: Int
    public var reason: String

    public var description: String { "\(path):\(line): \(reason)" }
}

/// Reads the subset of YAML that configuration files use, into Foundation values (`[String: Any]`,
/// `[Any]`, `String`, `Int`, `Double`, `Bool`, `NSNull`), the same values `JSONSerialization` gives.
///
/// Supported: block mappings (nested by indentation with spaces), block lists of scalars (`- x`),
/// inline lists of scalars (`[a, b]`), `{}` for an empty mapping, `#` comments, single- and
/// double-quoted strings, integers, floats (`1e-4`, `.inf`, `.nan`), `true`/`false`, `null`/`~`, and a
/// leading `---`. Not supported (an error, never a silent misread): anchors and aliases, tags,
/// multi-line strings, lists of mappings, inline mappings with members, tabs in indentation,
/// duplicate keys.
public enum YAMLSubset {
    /// One content line: its 1-based number, indentation, and text without comment and trailing spaces.
    struct Line {
        var number: Int
        var indent: Int
        var text: Substring
    }

    /// Parses `text`; an empty document is an empty mapping. `path` names the file in errors.
    public static func parse(_ text: String, path: String) throws -> Any { try parseDocument(text, path: path).value }

    /// Parses `text` and also returns the 1-based line of each top-level key (for errors about values).
    public static func parseDocument(_ text: String, path: String) throws -> (value: Any, keyLines: [String: Int]) {
        var lines: [Line] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var row = raw
            if row.last == "\r" { row = row.dropLast() }
            let indent = row.prefix { $0 == " " }.count
            if row.dropFirst(indent).first == "\t" {
                throw YAMLError(path: path, line: i + 1, reason: "a tab in the indentation; indent with spaces")
            }
            let content = try stripComment(row.dropFirst(indent), path: path, line: i + 1)
            guard !content.isEmpty else { continue }
            if lines.isEmpty && indent == 0 && (content == "---" || content.hasPrefix("--- ")) {
                let rest = content.dropFirst(3).drop { $0 == " " }
                if rest.isEmpty { continue }
                lines.append(Line(number: i + 1, indent: 4, text: rest))
                continue
            }
            if indent == 0 && content == "..." { break }
            lines.append(Line(number: i + 1, indent: indent, text: content))
        }
        guard let first = lines.first else { return ([String: Any](), [:]) }
        var parser = Parser(lines: lines, path: path)
        let value = try parser.block(indent: first.indent)
        if parser.index < lines.count {
            throw YAMLError(path: path, line: lines[parser.index].number, reason: "unexpected indentation")
        }
        return (value, parser.keyLines)
    }

    /// The text before a comment (`#` at the start or after a space, outside quotes), trailing spaces removed.
    static func stripComment(_ s: Substring, path: String, line: Int) throws -> Substring {
        var quote: Character?
        var previous: Character = " "
        var end = s.endIndex
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if let q = quote {
                if c == "\\" && q == "\"" {
                    i = s.index(after: i)
                    if i == s.endIndex { break }
                } else if c == q {
                    quote = nil
                }
            } else if c == "#" && (previous == " " || previous == "\t") {
                end = i
                break
            } else if (c == "\"" || c == "'") && (previous == " " || previous == "[" || previous == "," || previous == ":" || i == s.startIndex) {
                quote = c
            }
            previous = s[i]
            i = s.index(after: i)
        }
        var text = s[s.startIndex..<end]
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }

    struct Parser {
        let lines: [Line]
        let path: String
        var index = 0
        /// Nesting depth of the block being read (0: the document).
        var depth = 0
        var keyLines: [String: Int] = [:]

        func fail(_ reason: String, at line: Int? = nil) -> YAMLError {
            YAMLError(path: path, line: line ?? lines[min(index, lines.count - 1)].number, reason: reason)
        }

        /// A mapping or a list whose lines start at column `indent`.
        mutating func block(indent: Int) throws -> Any {
            Self.isListItem(lines[index].text) ? try list(indent: indent) : try mapping(indent: indent)
        }

        mutating func nested(indent: Int) throws -> Any {
            depth += 1
            defer { depth -= 1 }
            return try block(indent: indent)
        }

        static func isListItem(_ text: Substring) -> Bool { text == "-" || text.hasPrefix("- ") }

        mutating func mapping(indent: Int) throws -> [String: Any] {
            var result: [String: Any] = [:]
            while index < lines.count {
                let line = lines[index]
                if line.indent < indent { break }
                if line.indent > indent { throw fail("unexpected indentation (expected column \(indent + 1))") }
                if Self.isListItem(line.text) { throw fail("a list item where a \"key: value\" line was expected") }
                let (key, rest) = try splitKey(line)
                if result[key] != nil { throw fail("duplicate key \"\(key)\"") }
                if depth == 0 { keyLines[key] = line.number }
                index += 1
                if !rest.isEmpty {
                    result[key] = try Scalars.inline(rest, fail: { fail($0, at: line.number) })
                } else if index < lines.count, lines[index].indent > indent {
                    result[key] = try nested(indent: lines[index].indent)
                } else if index < lines.count, lines[index].indent == indent, Self.isListItem(lines[index].text) {
                    result[key] = try list(indent: indent)
                } else {
                    result[key] = NSNull()
                }
            }
            return result
        }

        mutating func list(indent: Int) throws -> [Any] {
            var result: [Any] = []
            while index < lines.count {
                let line = lines[index]
                if line.indent < indent || (line.indent == indent && !Self.isListItem(line.text)) { break }
                if line.indent > indent { throw fail("unexpected indentation (expected column \(indent + 1))") }
                let item = line.text.dropFirst().drop { $0 == " " }
                index += 1
                if item.isEmpty {
                    if index < lines.count, lines[index].indent > indent {
                        result.append(try nested(indent: lines[index].indent))
                    } else {
                        result.append(NSNull())
                    }
                } else if Self.isListItem(item) || (try? splitKey(Line(number: line.number, indent: 0, text: item))) != nil {
                    throw fail("lists of mappings or nested lists are not supported; use an inline list [a, b] or a mapping", at: line.number)
                } else {
                    result.append(try Scalars.inline(item, fail: { fail($0, at: line.number) }))
                }
            }
            return result
        }

        /// `key: rest` → (key, rest); the key may be quoted.
        func splitKey(_ line: Line) throws -> (String, Substring) {
            let text = line.text
            if let q = text.first, q == "\"" || q == "'" {
                let (key, after) = try Scalars.quoted(text, fail: { fail($0, at: line.number) })
                let rest = after.drop { $0 == " " }
                guard rest.first == ":" else { throw fail("expected \":\" after the key \(key)", at: line.number) }
                return (key, rest.dropFirst().drop { $0 == " " })
            }
            var i = text.startIndex
            while i < text.endIndex {
                if text[i] == ":" {
                    let next = text.index(after: i)
                    if next == text.endIndex || text[next] == " " {
                        let key = text[..<i].trimmingCharacters(in: .whitespaces)
                        guard !key.isEmpty else { throw fail("empty key", at: line.number) }
                        return (key, text[next...].drop { $0 == " " })
                    }
                }
                i = text.index(after: i)
            }
            throw fail("expected \"key: value\", got \"\(text)\"", at: line.number)
        }
    }
}
