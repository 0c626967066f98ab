/// The prompt and target of the reference's commonsense SFT (Docs/tracks.md §2, `data_utils.py`).
public enum SFTPrompt {
    /// The training prompt (`BASE_PROMPT`), exact bytes: two spaces after "request.", and a line of
    /// 16 spaces after the instruction. Note it differs from the evaluation prompt (Docs/tracks.md §3).
    public static func llmAdaptersTraining(instruction: String) -> String {
        "<s> Below is an instruction that describes a task. Write a response that appropriately completes the request.  \n\n"
            + "### Instruction:\n\(instruction)\n" + String(repeating: " ", count: 16) + "\n### Response:\n"
    }

    /// The target: `output` without `</s>`, a space, then the end-of-sequence text.
    public static func llmAdaptersTarget(output: String, eosText: String) -> String {
        output.replacingOccurrences(of: "</s>", with: "") + " " + eosText
    }
}

import Foundation
