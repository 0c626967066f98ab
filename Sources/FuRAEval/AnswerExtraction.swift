/// Answer extraction from generated text, as in the LLM-Adapters evaluation scripts (Docs/tracks.md §3, §4.7).
public enum AnswerExtraction {
    /// The first match of any of `vocabulary` in the lower-cased (unless `lowercase` is false)
    /// `completion`, or "" when none occurs.
    ///
    /// Equivalent to Python's `re.findall("|".join(vocabulary), completion.lower())[0]`: the leftmost
    /// match wins; at one position the earlier alternative wins. Matching is on code points, as in Python.
    public static func firstMatch(in completion: String, vocabulary: [String], lowercase: Bool = true) -> String {
        let text = ScalarText(lowercase ? completion.lowercased() : completion)
        let words = vocabulary.filter { !$0.isEmpty }.map(ScalarText.init)
        guard !words.isEmpty else { return "" }
        for i in 0..<max(text.count, 0) {
            for word in words where text.matches(word, at: i) { return word.description }
        }
        return ""
    }

    /// Every match of Python's `-?\d+\.?\d*` in `text`, left to right, non-overlapping (`\d` is any
    /// Unicode decimal digit, as in Python's `re` on `str`).
    public static func numberMatches(in text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var found: [String] = []
        var i = 0
        func isDigit(_ k: Int) -> Bool { k < s.count && s[k].decimalDigitValue != nil }
        while i < s.count {
            var j = i
            if s[j] == "-" && isDigit(j + 1) { j += 1 } else if !isDigit(j) { i += 1; continue }
            while isDigit(j) { j += 1 }
            if j < s.count && s[j] == "." {
                j += 1
                while isDigit(j) { j += 1 }
            }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s[i..<j])
            found.append(String(view))
            i = j
        }
        return found
    }

    /// The LLM-Adapters numeric answer (`extract_answer_number`): remove commas, take the last match of
    /// `-?\d+\.?\d*`, convert with Python's `float`. Nil when the text holds no number (the reference
    /// returns `inf`, which is never within tolerance of a finite gold answer).
    public static func lastNumber(in completion: String) -> Double? {
        let noCommas = String(String.UnicodeScalarView(completion.unicodeScalars.filter { $0 != "," }))
        guard let last = numberMatches(in: noCommas).last else { return nil }
        return parseDecimal(last)
    }

    /// Python `float(s)` for the strings `-?\d+\.?\d*` produces (Unicode digits mapped to ASCII).
    static func parseDecimal(_ s: String) -> Double? {
        var ascii = ""
        for scalar in s.unicodeScalars {
            if let d = scalar.decimalDigitValue { ascii.append(Character(String(d))) } else { ascii.unicodeScalars.append(scalar) }
        }
        return Double(ascii)
    }
}
