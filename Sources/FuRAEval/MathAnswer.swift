/// Math answers: gold extraction, prediction extraction and equivalence — the one API shared by the
/// math evaluation and the GRPO reward (Docs/tracks.md §4, §5.2).
public enum MathAnswer {
    /// How a prediction is read from generated text.
    public enum Mode: String, Sendable, CaseIterable, Codable {
        /// The content of the last `\boxed{…}` (MATH, GRPO): `remove_boxed(last_boxed_only_string(text))`.
        case boxed
        /// The last number `-?\d+\.?\d*` after removing commas (LLM-Adapters gsm8k / AddSub / SingleEq).
        case lastNumber
    }

    /// When a prediction counts as equal to the gold answer.
    public enum Rule: Sendable, Equatable {
        /// Exactly the reference `is_equiv` (string equality after `_strip_string`).
        case reference
        /// `is_equiv`, or both sides are plain numbers (integer, decimal, `1,000`-style, `\frac{a}{b}`,
        /// `a/b`, with a sign) of equal value (relative 1e-9): `\frac{1}{2}` = `0.5` = `1/2`, `3.0` = `3`.
        case referenceOrNumeric
        /// Both sides are numbers and `|prediction − gold| ≤ tolerance` (LLM-Adapters uses 0.001).
        case numericTolerance(Double)
    }

    /// The tolerance of the LLM-Adapters math evaluation: `abs(label - predict) <= 0.001`.
    public static let llmAdaptersTolerance = 0.001

    // MARK: Boxed answers

    /// `last_boxed_only_string(s)`: the last `\boxed{…}` (else `\fbox{…}`) with balanced braces,
    /// including the command; for the brace-less form `\boxed 5` the text after `\boxed ` up to the next
    /// `$`. Nil when there is none or its braces never close.
    public static func lastBoxedOnlyString(_ string: String) -> String? {
        let s = ScalarText(string)
        guard let idx = s.rfind(ScalarText("\\boxed")) ?? s.rfind(ScalarText("\\fbox")) else { return nil }
        if s.matches(ScalarText("\\boxed "), at: idx) {
            let after = s.suffix(from: idx + 7)
            return ("\\boxed " + after.split("$")[0]).description
        }
        var depth = 0
        for i in idx..<s.count {
            if s.scalars[i] == "{" { depth += 1 }
            if s.scalars[i] == "}" {
                depth -= 1
                if depth == 0 { return s.slice(idx, i + 1).description }
            }
        }
        return nil
    }

    /// `remove_boxed(s)`: strip a leading `\boxed ` (brace-less form), or a leading `\boxed{` and the
    /// trailing `}`; nil otherwise (so an `\fbox{…}` answer is nil, as in the reference).
    public static func removeBoxed(_ string: String) -> String? {
        let s = ScalarText(string)
        if s.hasPrefix("\\boxed ") { return s.suffix(from: 7).description }
        if s.hasPrefix("\\boxed{") && s.hasSuffix("}") && s.count >= 8 { return s.slice(7, s.count - 1).description }
        return nil
    }

    /// The content of the last box in `text`, or nil.
    public static func boxedAnswer(in text: String) -> String? {
        lastBoxedOnlyString(text).flatMap(removeBoxed)
    }

    // MARK: Gold answers

    /// The gold answer of a MATH solution: the content of its last `\boxed{…}` (Docs/tracks.md §5).
    public static func gold(fromSolution solution: String) -> String? { boxedAnswer(in: solution) }

    /// The gold answer of a GSM8K `answer` field (`… #### 1,234`): the text after the last `####`,
    /// trimmed, commas removed. Nil when there is no `####`.
    public static func gold(fromGSM8K answer: String) -> String? {
        let parts = ScalarText(answer).split("####")
        guard parts.count >= 2, let last = parts.last else { return nil }
        let text = last.replacing(",", with: "").description.trimmingWhitespace
        return text.isEmpty ? nil : text
    }

    /// The gold answer of an LLM-Adapters record: its `answer` field (a GSM8K `#### N` tail is taken
    /// when present), else the last box of its `output`, else nil.
    public static func gold(answerField: String?, output: String?) -> String? {
        if let answer = answerField?.trimmingWhitespace, !answer.isEmpty {
            return gold(fromGSM8K: answer) ?? answer
        }
        return output.flatMap(boxedAnswer(in:))
    }

    // MARK: Predictions

    /// The predicted answer in `completion`, or nil when it holds none.
    public static func prediction(from completion: String, mode: Mode) -> String? {
        switch mode {
        case .boxed:
            return boxedAnswer(in: completion)
        case .lastNumber:
            let noCommas = String(String.UnicodeScalarView(completion.unicodeScalars.filter { $0 != "," }))
            return AnswerExtraction.numberMatches(in: noCommas).last
        }
    }

    /// The rule each mode is graded with by default: boxed answers by `is_equiv` plus numeric equality,
    /// last numbers within the LLM-Adapters tolerance.
    public static func defaultRule(for mode: Mode) -> Rule {
        mode == .boxed ? .referenceOrNumeric : .numericTolerance(llmAdaptersTolerance)
    }

    // MARK: Equivalence

    /// Whether `prediction` equals `gold` under `rule`. With `.reference`, two nils are equal (as in
    /// `is_equiv`); the numeric rules never accept a nil side.
    public static func isEquivalent(_ prediction: String?, _ gold: String?, rule: Rule = .referenceOrNumeric) -> Bool {
        switch rule {
        case .reference:
            return MathNormalization.referenceEquivalent(prediction, gold)
        case .referenceOrNumeric:
            guard let prediction, let gold else { return MathNormalization.referenceEquivalent(prediction, gold) }
            if MathNormalization.referenceEquivalent(prediction, gold) { return true }
            guard let p = numericValue(prediction), let g = numericValue(gold) else { return false }
            return abs(p - g) <= 1e-9 * max(1, abs(p), abs(g))
        case .numericTolerance(let tolerance):
            guard let prediction, let gold, let p = numericValue(prediction), let g = numericValue(gold) else { return false }
            return abs(p - g) <= tolerance
        }
    }

    /// The reward of one rollout: 1 when an answer is extracted and equivalent to `gold`, else 0.
    public static func reward(completion: String, gold: String?, mode: Mode = .boxed, rule: Rule = .reference) -> Double {
        guard let predicted = prediction(from: completion, mode: mode) else { return 0 }
        return isEquivalent(predicted, gold, rule: rule) ? 1 : 0
    }

    /// The value of a plain numeric answer after normalization: an integer or decimal (with optional
    /// sign and `1,000`-style grouping), or a fraction `\frac{a}{b}` / `a/b` of such numbers; nil for
    /// anything else (expressions, tuples, intervals, symbols).
    public static func numericValue(_ answer: String) -> Double? {
        let normalized = MathNormalization.strip(answer) ?? answer.replacingSpaces
        return NumericAnswer.value(of: normalized)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    var trimmingWhitespace: String {
        let scalars = Array(unicodeScalars)
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    var replacingSpaces: String { String(String.UnicodeScalarView(unicodeScalars.filter { $0 != " " })) }
}
