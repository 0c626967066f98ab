import Foundation
import FuRAEval
import FuRATrain
import Testing

@Suite struct RewardDataTests {
    @Test func readsMathGSM8KAndLLMAdaptersRecords() throws {
        let jsonl = """
        {"problem": "Compute $1+1$.", "solution": "We get $\\\\boxed{2}$, not \\\\boxed{3}... no: \\\\boxed{2}."}
        {"question": "Tom has 3 apples.", "answer": "He has 3+4=7.\\n#### 1,007"}

        {"instruction": "What is 2 times 4?", "answer": 8}
        {"question": "Half?", "answer": 0.5}
        """
        let examples = try MathRewardData.parse(Data(jsonl.utf8), path: "d.jsonl")
        #expect(examples.map(\.answer) == ["2", "1007", "8", "0.5"])
        #expect(examples[1].question == "Tom has 3 apples.")
        let list = try MathRewardData.parse(Data(#"[{"problem": "p", "answer": "\\frac{1}{2}"}]"#.utf8), path: "d.json")
        #expect(list == [RewardExample(question: "p", answer: "\\frac{1}{2}")])
    }

    /// LLM-Adapters writes integral answers as "4.0"; under the reference's rule a boxed 4 must still earn
    /// the reward, so such a string reads as the integer (as a JSON number does); other decimals stay.
    @Test func llmAdaptersIntegralAnswersReadAsIntegers() throws {
        let json = #"[{"instruction": "a", "answer": "4.0"}, {"instruction": "b", "answer": " -12.00 "},"# +
            #" {"instruction": "c", "answer": "2.50"}, {"instruction": "d", "answer": "x.0"}, {"instruction": "e", "answer": ".0"}]"#
        let examples = try MathRewardData.parse(Data(json.utf8), path: "m.json")
        #expect(examples.map(\.answer) == ["4", "-12", "2.50", "x.0", ".0"])
        let reward = MathCorrectnessReward(mode: .boxed)
        #expect(reward.reward(prompt: "", completion: "so \\boxed{4}", example: examples[0]) == 1)
        #expect(reward.reward(prompt: "", completion: "so \\boxed{4.5}", example: examples[0]) == 0)
    }

    @Test func badDataGivesErrorsNamingTheFileAndLine() {
        #expect(throws: TrainingError.emptyData(path: "e.jsonl", reason: "the file is empty")) {
            try MathRewardData.parse(Data("  \n".utf8), path: "e.jsonl")
        }
        do {
            _ = try MathRewardData.parse(Data("{\"problem\": \"a\", \"answer\": \"1\"}\n{\"problem\": \"b\"}\n".utf8), path: "n.jsonl")
            Issue.record("a record without an answer was accepted")
        } catch let error as TrainingError {
            #expect("\(error)".contains("n.jsonl") && "\(error)".contains("line 2") && "\(error)".contains("no gold answer"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: TrainingError.self) { try MathRewardData.parse(Data("{\"answer\": \"1\"}".utf8), path: "q.jsonl") }
        #expect(throws: TrainingError.self) { try MathRewardData.parse(Data("not json".utf8), path: "x.jsonl") }
        #expect(throws: TrainingError.self) { try MathRewardData.load(path: "/nonexistent/file.jsonl") }
    }
}
