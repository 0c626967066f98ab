/// The reference's string normalization of a MATH answer (`_strip_string` in `fura/math_utils.py`,
/// Docs/tracks.md §6), step by step and in the reference's order.
///
/// Each helper returns nil where the Python raises (an `assert` or an index error); `is_equiv` then
/// falls back to comparing the raw strings.
enum MathNormalization {
    /// `_strip_string(s)`; nil where the reference raises.
    static func strip(_ input: String) -> String? {
        var s = ScalarText(input)
        s = s.replacing("\n", with: "")                     // line breaks
        s = s.replacing("\\!", with: "")                    // inverse spaces
        s = s.replacing("\\\\", with: "\\")                 // \\ → \
        s = s.replacing("tfrac", with: "frac")
        s = s.replacing("dfrac", with: "frac")
        s = s.replacing("\\left", with: "")
        s = s.replacing("\\right", with: "")
        s = s.replacing("^{\\circ}", with: "")              // degrees
        s = s.replacing("^\\circ", with: "")
        s = s.replacing("\\$", with: "")                    // dollar signs
        guard let noUnits = removeRightUnits(s) else { return nil }
        s = noUnits
        s = s.replacing("\\%", with: "")                    // percent (the reference does this twice, same string)
        s = s.replacing(" .", with: " 0.")
        s = s.replacing("{.", with: "{0.")
        if s.isEmpty { return "" }
        if s.scalars[0] == "." { s = "0" + s }
        let sides = s.split("=")                            // "k = 5" → "5" when the left side is short
        if sides.count == 2 && sides[0].count <= 2 { s = sides[1] }
        guard let sqrtFixed = fixSqrt(s) else { return nil }
        s = sqrtFixed
        s = s.replacing(" ", with: "")
        guard let fracFixed = fixFracs(s) else { return nil }
        s = fracFixed
        if s == ScalarText("0.5") { s = ScalarText("\\frac{1}{2}") }
        s = fixASlashB(s)
        return s.description
    }

    /// `_remove_right_units`: keep what precedes `"\text{ "`; nil (the reference's failed assert) when
    /// it occurs more than once.
    static func removeRightUnits(_ s: ScalarText) -> ScalarText? {
        guard s.contains("\\text{ ") else { return s }
        let parts = s.split("\\text{ ")
        return parts.count == 2 ? parts[0] : nil
    }

    /// `_fix_sqrt`: `\sqrt3` → `\sqrt{3}` (one following code point); nil when `\sqrt` ends the string.
    static func fixSqrt(_ s: ScalarText) -> ScalarText? {
        guard s.contains("\\sqrt") else { return s }
        let parts = s.split("\\sqrt")
        var out = parts[0]
        for part in parts.dropFirst() {
            guard let first = part.scalars.first else { return nil }
            if first != "{" {
                out = out + "\\sqrt{" + ScalarText(scalars: [first]) + "}" + part.suffix(from: 1)
            } else {
                out = out + "\\sqrt" + part
            }
        }
        return out
    }

    /// `_fix_fracs`: `\frac12` → `\frac{1}{2}`, `\frac1b` → `\frac{1}{b}`, `\frac1{72}` → `\frac{1}{72}`.
    /// Returns the input unchanged when a brace-less `\frac` has fewer than two code points after it, and
    /// nil when `\frac` ends the string (the reference's index error).
    static func fixFracs(_ s: ScalarText) -> ScalarText? {
        let parts = s.split("\\frac")
        var out = parts[0]
        for part in parts.dropFirst() {
            out = out + "\\frac"
            guard let a = part.scalars.first else { return nil }
            if a == "{" {
                out = out + part
                continue
            }
            guard part.count >= 2 else { return s }
            let b = part.scalars[1]
            let rest = part.suffix(from: 2)
            if b != "{" {
                out = out + "{" + ScalarText(scalars: [a]) + "}{" + ScalarText(scalars: [b]) + "}" + rest
            } else {
                out = out + "{" + ScalarText(scalars: [a]) + "}" + ScalarText(scalars: [b]) + rest
            }
        }
        return out
    }

    /// `_fix_a_slash_b`: `"3/4"` → `\frac{3}{4}` when both sides are integers written canonically
    /// (the reference checks `s == f"{int(a)}/{int(b)}"`).
    static func fixASlashB(_ s: ScalarText) -> ScalarText {
        let parts = s.split("/")
        guard parts.count == 2, isCanonicalInteger(parts[0]), isCanonicalInteger(parts[1]) else { return s }
        return "\\frac{" + parts[0] + "}{" + parts[1] + "}"
    }

    /// Whether `str(int(t)) == t` in Python: `-?(0|[1-9][0-9]*)`, ASCII digits, not `-0`.
    static func isCanonicalInteger(_ t: ScalarText) -> Bool {
        var digits = t.scalars[...]
        if digits.first == "-" { digits = digits.dropFirst() }
        guard let first = digits.first, digits.allSatisfy({ $0.isASCII && ("0"..."9").contains($0) }) else { return false }
        if first == "0" { return digits.count == 1 && t.scalars.first != "-" }
        return true
    }

    /// The reference `is_equiv(a, b)`: both nil ⇒ true; one nil ⇒ false; else the normalized strings
    /// are equal (raw equality where normalization raises).
    static func referenceEquivalent(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        guard let sa = strip(a), let sb = strip(b) else { return ScalarText(a) == ScalarText(b) }
        return ScalarText(sa) == ScalarText(sb)
    }
}
