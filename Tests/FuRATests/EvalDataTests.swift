import Foundation
import Testing
@testable import FuRAEval

@Suite struct EvalDataTests {
    func parse(_ json: String, task: EvalTask = .boolq) throws -> [EvalExample] {
        try EvalData.parse(Data(json.utf8), file: "t.json", task: task)
    }

    @Test func promptHasTheExactBytesOfTheReference() {
        let p = EvalPrompt.generate(instruction: "Q?")
        #expect(p == "<s> Below is an instruction that describes a task. Write a response that appropriately completes the request. \n\n### Instruction:\nQ?\n\n### Response:\n")
        #expect(p.hasPrefix("<s> Below"))
        #expect(p.contains("request. \n\n### Instruction:\n"))   // one space, then a blank line
        #expect(!p.contains("request.  "))
        #expect(p.utf8.count == 147)  // len(PROMPT.format_map({"instruction": "Q?"}).encode()) in Python
    }

    @Test func loadsRecordsAndReadsTheOfferedChoices() throws {
        let json = """
        [{"instruction": "Q1\\n\\nAnswer format: answer1/answer2/answer3/answer4", "input": "", "output": "the correct answer is answer2", "answer": "answer2"},
         {"instruction": "Q2\\n\\nAnswer format: answer1/answer2/answer3/answer4/answer5", "input": "", "output": "x", "answer": "Answer5"},
         {"instruction": "Q3 without a format line", "answer": "answer1"}]
        """
        let examples = try parse(json, task: .arcChallenge)
        #expect(examples.count == 3)
        #expect(examples[0].choices == ["answer1", "answer2", "answer3", "answer4"])
        #expect(examples[0].gold == "answer2")
        #expect(examples[1].gold == "answer5")
        #expect(examples[1].choices.count == 5)
        #expect(examples[2].choices == EvalTask.arcChallenge.vocabulary)
        #expect(examples[2].index == 2)
    }

    @Test func mathRecordsAcceptNumericAnswers() throws {
        let json = """
        [{"instruction": "a", "input": "", "output": "The answer is 4.", "answer": "4.0"},
         {"instruction": "b", "answer": 18},
         {"instruction": "c", "answer": "#### 1,250"}]
        """
        let examples = try parse(json, task: .gsm8k)
        #expect(examples.map(\.gold) == ["4.0", "18", "1250"])
        let boxed = try parse(#"[{"instruction": "a", "answer": "", "output": "so \\boxed{\\frac{1}{2}}"}]"#, task: .math)
        #expect(boxed[0].gold == "\\frac{1}{2}")
    }

    @Test func badFilesGiveErrorsNamingFileRecordAndField() {
        #expect(throws: EvalDataError.empty(file: "t.json")) { try parse("[]") }
        #expect(throws: EvalDataError.notAnArray(file: "t.json", actual: "an object")) { try parse(#"{"instruction": "x"}"#) }
        #expect(throws: EvalDataError.recordNotObject(file: "t.json", index: 1, actual: "a string")) {
            try parse(#"[{"instruction": "x", "answer": "true"}, "oops"]"#)
        }
        #expect(throws: EvalDataError.missingField(file: "t.json", index: 0, field: "answer")) { try parse(#"[{"instruction": "x"}]"#) }
        #expect(throws: EvalDataError.missingField(file: "t.json", index: 1, field: "instruction")) {
            try parse(#"[{"instruction": "x", "answer": "true"}, {"answer": "true"}]"#)
        }
        #expect(throws: EvalDataError.wrongFieldType(file: "t.json", index: 0, field: "instruction", expected: "a string", actual: "a number")) {
            try parse(#"[{"instruction": 3, "answer": "true"}]"#)
        }
        #expect(throws: EvalDataError.wrongFieldType(file: "t.json", index: 0, field: "answer", expected: "a string", actual: "a number")) {
            try parse(#"[{"instruction": "x", "answer": 1}]"#)
        }
        #expect(throws: EvalDataError.badAnswer(file: "t.json", index: 0, task: "boolq", answer: "maybe", expected: "one of true/false")) {
            try parse(#"[{"instruction": "x", "answer": "maybe"}]"#)
        }
        #expect(throws: EvalDataError.self) { try parse(#"[{"instruction": "x", "answer": "many"}]"#, task: .gsm8k) }
        #expect(throws: EvalDataError.self) { try parse(#"[{"instruction": "x", "answer": ""}]"#, task: .math) }
        do {
            _ = try parse("[{\"instruction\": ")
            Issue.record("malformed JSON accepted")
        } catch let error as EvalDataError {
            guard case .malformedJSON(let file, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(file == "t.json")
        } catch { Issue.record("untyped error \(error)") }
        #expect(throws: EvalDataError.self) { try EvalData.load(path: "/nonexistent/boolq.json", task: .boolq) }
        let message = EvalDataError.missingField(file: "t.json", index: 4, field: "answer").description
        #expect(message.contains("t.json") && message.contains("record 4") && message.contains("answer"))
    }

    @Test func taskNamesAndCandidates() {
        #expect(EvalTask(name: "arc-challenge") == .arcChallenge)
        #expect(EvalTask(name: "social_i_qa") == .socialIQA)
        #expect(EvalTask(name: "nope") == nil)
        #expect(EvalTask.piqa.candidates() == ["the correct answer is solution1", "the correct answer is solution2"])
        #expect(EvalTask.hellaswag.candidates(choiceCount: 2).count == 2)
        #expect(EvalTask.commonsense.count == 8)
    }
}
