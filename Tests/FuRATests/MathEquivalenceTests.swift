import Foundation
import Testing
@testable import FuRAEval

@Suite struct MathEquivalenceTests {
    @Test func lastBoxedTakesTheLastBalancedBox() {
        #expect(MathAnswer.lastBoxedOnlyString("a \\boxed{1} b \\boxed{\\frac{\\sqrt{3}}{2}} c") == "\\boxed{\\frac{\\sqrt{3}}{2}}")
        #expect(MathAnswer.boxedAnswer(in: "so $\\boxed{\\frac{\\sqrt{3}}{2}}$.") == "\\frac{\\sqrt{3}}{2}")
        #expect(MathAnswer.boxedAnswer(in: "The answer is $\\boxed 5$ indeed") == "5")
        #expect(MathAnswer.boxedAnswer(in: "The answer is \\boxed 5") == "5")
        #expect(MathAnswer.lastBoxedOnlyString("\\fbox{7}") == "\\fbox{7}")
        #expect(MathAnswer.boxedAnswer(in: "\\fbox{7}") == nil)               // remove_boxed knows only \boxed
        #expect(MathAnswer.boxedAnswer(in: "\\boxed{1} then \\fbox{7}") == "1")  // \boxed wins over a later \fbox
        #expect(MathAnswer.boxedAnswer(in: "unbalanced \\boxed{\\frac{1}{2}") == nil)
        #expect(MathAnswer.boxedAnswer(in: "no answer at all") == nil)
        #expect(MathAnswer.boxedAnswer(in: "\\boxed{}") == "")
        #expect(MathAnswer.boxedAnswer(in: "\\boxed{a}{b}") == "a")
        #expect(MathAnswer.removeBoxed("\\boxed{x}") == "x")
        #expect(MathAnswer.removeBoxed("\\boxed x") == "x")
        #expect(MathAnswer.removeBoxed("boxed{x}") == nil)
    }

    @Test func stripStringStepsMatchTheReference() {
        let strip = MathNormalization.strip
        #expect(strip("\\frac12") == "\\frac{1}{2}")
        #expect(strip("\\frac1b") == "\\frac{1}{b}")
        #expect(strip("\\frac1{72}") == "\\frac{1}{72}")
        #expect(strip("\\dfrac{3}{4}") == "\\frac{3}{4}")
        #expect(strip("\\tfrac{3}{4}") == "\\frac{3}{4}")
        #expect(strip("\\left( 1, 2 \\right)") == "(1,2)")
        #expect(strip("90^\\circ") == "90")
        #expect(strip("90^{\\circ}") == "90")
        #expect(strip("\\$5") == "5")
        #expect(strip("5 \\text{ cm}") == "5")
        #expect(strip("50\\%") == "50")
        #expect(strip(".5") == "\\frac{1}{2}")                   // "0" prepended, then 0.5 → \frac{1}{2}
        #expect(strip("x = .25") == "0.25")
        #expect(strip("k = 7") == "7")
        #expect(strip("abc = 7") == "abc=7")                      // left side longer than 2 kept
        #expect(strip("\\sqrt3") == "\\sqrt{3}")
        #expect(strip("2\\sqrt{3}") == "2\\sqrt{3}")
        #expect(strip("3/4") == "\\frac{3}{4}")
        #expect(strip("-3/4") == "\\frac{-3}{4}")
        #expect(strip("03/4") == "03/4")                         // not str(int(a))
        #expect(strip("a/4") == "a/4")
        #expect(strip("1\\!000") == "1000")
        #expect(strip("a\nb") == "ab")
        #expect(strip("\\\\frac{1}{2}") == "\\frac{1}{2}")
        #expect(strip("") == "")
        #expect(strip("0.5") == "\\frac{1}{2}")
        #expect(strip("0.50") == "0.50")
        #expect(strip("\\frac1") == "\\frac1")                   // too short: unchanged, as the reference
        #expect(strip("\\frac") == nil)                          // the reference raises IndexError
        #expect(strip("2\\sqrt") == nil)
        #expect(strip("1 \\text{ m} 2 \\text{ s}") == nil)       // the reference's assert fails
    }

    @Test func referenceEquivalenceAndItsRawFallback() {
        #expect(MathAnswer.isEquivalent("0.5", "\\frac{1}{2}", rule: .reference))
        #expect(MathAnswer.isEquivalent("\\frac12", "\\dfrac{1}{2}", rule: .reference))
        #expect(MathAnswer.isEquivalent("1/2", "\\frac{1}{2}", rule: .reference))
        #expect(MathAnswer.isEquivalent("5 \\text{ cm}", "5", rule: .reference))
        #expect(MathAnswer.isEquivalent(nil, nil, rule: .reference))
        #expect(!MathAnswer.isEquivalent(nil, "5", rule: .reference))
        #expect(!MathAnswer.isEquivalent("3.0", "3", rule: .reference))
        #expect(!MathAnswer.isEquivalent("1,000", "1000", rule: .reference))
        #expect(MathAnswer.isEquivalent("\\frac", "\\frac", rule: .reference))   // raw equality after a raise
        #expect(!MathAnswer.isEquivalent("\\frac", "\\frac ", rule: .reference))
    }

    @Test func numericEquivalenceOfFractionsDecimalsAndIntegers() {
        let eq = { (a: String?, b: String?) in MathAnswer.isEquivalent(a, b) }
        #expect(eq("\\frac{1}{2}", "0.5"))
        #expect(eq("1/2", "0.5"))
        #expect(eq("\\frac12", "0.50"))
        #expect(eq("3.0", "3"))
        #expect(eq("1,000", "1000"))
        #expect(eq("-\\frac{3}{4}", "-0.75"))
        #expect(eq("\\frac{-3}{4}", "-0.75"))
        #expect(eq("-7", "-7.0"))
        #expect(eq("5 \\text{ cm}", "5.0"))
        #expect(eq("\\$1,234", "1234"))
        #expect(!eq("-7", "7"))
        #expect(!eq("0.333", "\\frac{1}{3}"))
        #expect(!eq("1,2", "12"))                 // not a thousands grouping: a pair
        #expect(!eq("\\frac{1}{0}", "\\frac{2}{0}"))
        #expect(!eq(nil, "5"))
        #expect(!eq("x+1", "1+x"))
        #expect(MathAnswer.numericValue("1,000.5") == 1000.5)
        #expect(MathAnswer.numericValue("\\frac{\\sqrt{3}}{2}") == nil)
    }

    @Test func goldExtraction() {
        #expect(MathAnswer.gold(fromSolution: "Thus $x = \\boxed{\\frac{\\sqrt{3}}{2}}$.") == "\\frac{\\sqrt{3}}{2}")
        #expect(MathAnswer.gold(fromGSM8K: "She has 3 + 4 = 7\n#### 1,007") == "1007")
        #expect(MathAnswer.gold(fromGSM8K: "no marker") == nil)
        #expect(MathAnswer.gold(answerField: "4.0", output: "The answer is 4.") == "4.0")
        #expect(MathAnswer.gold(answerField: "", output: "so \\boxed{12}") == "12")
        #expect(MathAnswer.gold(answerField: nil, output: nil) == nil)
    }

    @Test func predictionsAndRewards() {
        #expect(MathAnswer.prediction(from: "The answer is 1,000.", mode: .lastNumber) == "1000.")
        #expect(MathAnswer.prediction(from: "nothing", mode: .lastNumber) == nil)
        #expect(MathAnswer.prediction(from: "nothing", mode: .boxed) == nil)
        let lastNumber = MathAnswer.defaultRule(for: .lastNumber)
        #expect(MathAnswer.isEquivalent("1000.", "1000.0", rule: lastNumber))
        #expect(MathAnswer.isEquivalent("2.0004", "2", rule: lastNumber))
        #expect(!MathAnswer.isEquivalent("2.002", "2", rule: lastNumber))
        #expect(!MathAnswer.isEquivalent("-4", "4", rule: lastNumber))
        #expect(MathAnswer.reward(completion: "so \\boxed{\\frac12}", gold: "0.5") == 1)
        #expect(MathAnswer.reward(completion: "so \\boxed{3.0}", gold: "3") == 0)                 // reference rule
        #expect(MathAnswer.reward(completion: "so \\boxed{3.0}", gold: "3", rule: .referenceOrNumeric) == 1)
        #expect(MathAnswer.reward(completion: "no box", gold: nil) == 0)                          // nil extraction scores 0
    }
}

/// Values computed by `scripts/fixtures/math_answers.py` (Python `str`, `re` and `float` semantics).
struct MathAnswerFixture: Decodable {
    struct Strip: Decodable { var input: String; var output: String? }
    struct Equiv: Decodable { var a: String; var b: String; var equivalent: Bool }
    struct Number: Decodable { var input: String; var output: Double? }
    struct Match: Decodable { var input: String; var pattern: String; var output: String }
    var strip: [Strip]
    var equiv: [Equiv]
    var lastNumber: [Number]
    var firstMatch: [Match]

    enum CodingKeys: String, CodingKey {
        case strip, equiv
        case lastNumber = "last_number"
        case firstMatch = "first_match"
    }

    static func load() throws -> MathAnswerFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/math_answers.json")
        return try JSONDecoder().decode(MathAnswerFixture.self, from: Data(contentsOf: url))
    }
}

@Suite struct MathAnswerFixtureTests {
    @Test func normalizationMatchesPython() throws {
        let fixture = try MathAnswerFixture.load()
        #expect(fixture.strip.count >= 50)
        for entry in fixture.strip {
            #expect(MathNormalization.strip(entry.input).map { Array($0.unicodeScalars) } == entry.output.map { Array($0.unicodeScalars) },
                    "strip(\(entry.input.debugDescription))")
        }
        for entry in fixture.equiv {
            #expect(MathAnswer.isEquivalent(entry.a, entry.b, rule: .reference) == entry.equivalent, "is_equiv(\(entry.a), \(entry.b))")
        }
    }

    @Test func extractionMatchesPython() throws {
        let fixture = try MathAnswerFixture.load()
        for entry in fixture.lastNumber {
            #expect(AnswerExtraction.lastNumber(in: entry.input) == entry.output, "last number of \(entry.input.debugDescription)")
        }
        for entry in fixture.firstMatch {
            let vocabulary = entry.pattern.split(separator: "|").map(String.init)
            #expect(AnswerExtraction.firstMatch(in: entry.input, vocabulary: vocabulary) == entry.output, "\(entry.input)")
        }
    }
}
