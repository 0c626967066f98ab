import FuRAEval
import FuRATrain
import Testing

@Suite struct RewardTests {
    let example = RewardExample(question: "What is 7 + 5?", answer: "12")

    @Test func boxedCorrectnessIsTheReferenceRule() {
        let reward = MathCorrectnessReward(mode: .boxed)
        #expect(reward.reward(prompt: "", completion: "7 + 5 = 12, so \\boxed{12}.", example: example) == 1)
        #expect(reward.reward(prompt: "", completion: "\\boxed{11} no wait \\boxed{12}", example: example) == 1)
        #expect(reward.reward(prompt: "", completion: "\\boxed{12} no wait \\boxed{13}", example: example) == 0)
        #expect(reward.reward(prompt: "", completion: "The answer is 12.", example: example) == 0)
        // The reference rule compares strings after _strip_string: 12.0 is not 12 there.
        #expect(reward.reward(prompt: "", completion: "\\boxed{12.0}", example: example) == 0)
    }

    @Test func lastNumberCorrectnessReadsTheLastNumber() {
        let reward = MathCorrectnessReward(mode: .lastNumber)
        #expect(reward.reward(prompt: "", completion: "7 + 5 = 12", example: example) == 1)
        #expect(reward.reward(prompt: "", completion: "12 is wrong, it is 13", example: example) == 0)
        #expect(reward.reward(prompt: "", completion: "no number", example: example) == 0)
        #expect(reward.name == "accuracy_last_number")
    }

    @Test func formatRewardWantsAWellFormedNonEmptyBox() {
        let reward = BoxedFormatReward()
        #expect(reward.reward(prompt: "", completion: "so \\boxed{42}", example: example) == 1)
        #expect(reward.reward(prompt: "", completion: "so \\boxed{}", example: example) == 0)
        #expect(reward.reward(prompt: "", completion: "so \\boxed{42", example: example) == 0)
        #expect(reward.reward(prompt: "", completion: "so 42", example: example) == 0)
    }

    @Test func weightedRewardsSumAsTRL() throws {
        let rewards = try WeightedRewards([MathCorrectnessReward(mode: .lastNumber), BoxedFormatReward()], weights: [1, 0.25])
        let (total, parts) = rewards.evaluate(prompt: "", completion: "\\boxed{12}", example: example)
        #expect(parts == [1, 1] && total == 1.25)
        #expect(rewards.evaluate(prompt: "", completion: "\\boxed{3}", example: example).total == 0.25)
        #expect(throws: TrainingError.self) { try WeightedRewards([BoxedFormatReward()], weights: [1, 2]) }
        #expect(throws: TrainingError.self) { try WeightedRewards([]) }
    }
}
