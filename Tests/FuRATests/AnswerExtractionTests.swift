import Testing
@testable import FuRAEval

@Suite struct AnswerExtractionTests {
    @Test func firstMatchIsLeftmostAfterLowerCasing() {
        let boolq = ["true", "false"]
        #expect(AnswerExtraction.firstMatch(in: "The correct answer is FALSE, not true", vocabulary: boolq) == "false")
        #expect(AnswerExtraction.firstMatch(in: "true or false? false", vocabulary: boolq) == "true")
        #expect(AnswerExtraction.firstMatch(in: "Untrue!", vocabulary: boolq) == "true")  // substring, as re.findall
        #expect(AnswerExtraction.firstMatch(in: "no idea", vocabulary: boolq) == "")
        #expect(AnswerExtraction.firstMatch(in: "", vocabulary: boolq) == "")
        let arc = EvalTask.arcChallenge.vocabulary
        #expect(AnswerExtraction.firstMatch(in: "the correct answer is Answer3 (answer1 is wrong)", vocabulary: arc) == "answer3")
        #expect(AnswerExtraction.firstMatch(in: "answer12", vocabulary: arc) == "answer1")
        #expect(AnswerExtraction.firstMatch(in: "answer 2", vocabulary: arc) == "")
        #expect(AnswerExtraction.firstMatch(in: "Solution2 then solution1", vocabulary: EvalTask.piqa.vocabulary) == "solution2")
        #expect(AnswerExtraction.firstMatch(in: "ending4", vocabulary: EvalTask.hellaswag.vocabulary) == "ending4")
        #expect(AnswerExtraction.firstMatch(in: "option3 option2", vocabulary: EvalTask.winogrande.vocabulary) == "option2")
    }

    @Test func sameStartPositionPrefersEarlierAlternative() {
        #expect(AnswerExtraction.firstMatch(in: "abc", vocabulary: ["ab", "abc"]) == "ab")
        #expect(AnswerExtraction.firstMatch(in: "abc", vocabulary: ["abc", "ab"]) == "abc")
        #expect(AnswerExtraction.firstMatch(in: "xbc ab", vocabulary: ["ab", "bc"]) == "bc")
    }

    @Test func numberMatchesFollowPythonRegex() {
        #expect(AnswerExtraction.numberMatches(in: "a -3 b 4.5 c 7. d -x 8-9 3.14.15") ==
                ["-3", "4.5", "7.", "8", "-9", "3.14", "15"])
        #expect(AnswerExtraction.numberMatches(in: "no digits") == [])
        #expect(AnswerExtraction.numberMatches(in: "--5") == ["-5"])
        #expect(AnswerExtraction.numberMatches(in: "x٣٤") == ["٣٤"])  // \d is Unicode Nd in Python
    }

    @Test func lastNumberRemovesCommasAndParsesLikeFloat() {
        #expect(AnswerExtraction.lastNumber(in: "So 16 - 12 = 4 kids. The answer is 4.") == 4)
        #expect(AnswerExtraction.lastNumber(in: "The total is $1,234,567.50") == 1_234_567.5)
        #expect(AnswerExtraction.lastNumber(in: "it fell to -17 degrees") == -17)
        #expect(AnswerExtraction.lastNumber(in: "x٣٤") == 34)
        #expect(AnswerExtraction.lastNumber(in: "The answer is unknown.") == nil)
        #expect(AnswerExtraction.lastNumber(in: "1,000") == 1000)
        #expect(AnswerExtraction.lastNumber(in: "3 apples and 2,5 pears") == 25)  // commas removed first
    }
}
