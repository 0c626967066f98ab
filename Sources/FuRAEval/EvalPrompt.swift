/// The prompt of the commonsense evaluation (Docs/tracks.md §3), byte for byte: one space after "request.",
/// a blank line after the instruction (unlike the training prompt of §4.3).
public enum EvalPrompt {
    /// `"<s> Below is an instruction … request. \n\n### Instruction:\n{instruction}\n\n### Response:\n"`.
    public static func generate(instruction: String) -> String {
        "<s> Below is an instruction that describes a task. Write a response that appropriately completes the request. "
            + "\n\n### Instruction:\n" + instruction + "\n\n### Response:\n"
    }
}
