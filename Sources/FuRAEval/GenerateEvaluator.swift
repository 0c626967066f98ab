/// The reference's generate protocol (Docs/tracks.md §3): prompt, generate (4-beam search, 256 new tokens),
/// extract the answer from the completion, compare with the gold.
public struct GenerateEvaluator {
    public var maxNewTokens: Int
    public var numBeams: Int
    /// Prompts per call of the generator.
    public var batchSize: Int
    /// Builds the prompt of a question.
    public var prompt: (String) -> String

    public init(maxNewTokens: Int = 256, numBeams: Int = 4, batchSize: Int = 32,
                prompt: @escaping (String) -> String = EvalPrompt.generate) {
        self.maxNewTokens = maxNewTokens
        self.numBeams = numBeams
        self.batchSize = batchSize
        self.prompt = prompt
    }

    /// Generates and grades every example; one record per example, in input order.
    public func evaluate(task: EvalTask, examples: [EvalExample], generator: some TextGenerator,
                         progress: ((Int, Int) -> Void)? = nil) throws -> [EvalRecord] {
        guard batchSize > 0 else { throw EvalRunError.invalidOption(name: "batch size", value: "\(batchSize)", expected: "at least 1") }
        var records: [EvalRecord] = []
        records.reserveCapacity(examples.count)
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let chunk = examples[start..<min(start + batchSize, examples.count)]
            let prompts = chunk.map { prompt($0.instruction) }
            let completions = try generator.generate(prompts: prompts, maxNewTokens: maxNewTokens, numBeams: numBeams)
            guard completions.count == prompts.count else {
                throw EvalRunError.generatorCount(expected: prompts.count, actual: completions.count)
            }
            for (example, (text, completion)) in zip(chunk, zip(prompts, completions)) {
                let (extracted, correct) = Self.grade(task: task, completion: completion, gold: example.gold)
                records.append(EvalRecord(task: task.rawValue, index: example.index, prompt: text, output: completion,
                                          extracted: extracted, gold: example.gold, correct: correct))
            }
            progress?(records.count, examples.count)
        }
        return records
    }

    /// The extracted answer of a completion and whether it is correct: first vocabulary match for
    /// multiple-choice tasks (`""` when none), the math task's prediction mode and rule otherwise.
    public static func grade(task: EvalTask, completion: String, gold: String) -> (extracted: String?, correct: Bool) {
        if let mode = task.mathMode {
            let predicted = MathAnswer.prediction(from: completion, mode: mode)
            return (predicted, predicted != nil && MathAnswer.isEquivalent(predicted, gold, rule: MathAnswer.defaultRule(for: mode)))
        }
        let extracted = AnswerExtraction.firstMatch(in: completion, vocabulary: task.vocabulary, lowercase: task.lowercasesCompletion)
        return (extracted, extracted == (task.lowercasesCompletion ? gold.lowercased() : gold))
    }
}
