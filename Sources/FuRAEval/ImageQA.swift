import Foundation
import FuRAModels
import FuRATrain
import FuRAVision

/// Visual question answering scored as exact match (after lower-casing and dropping end punctuation); questions whose
/// answer is yes or no also give POPE's figures (accuracy, precision, recall and F1 of "yes").
public enum ImageQA {
    /// The task's name on the command line and in reports.
    public static let taskName = "image-qa"
    /// One answered question (`fura eval --output`).
    public struct Record: Codable, Sendable {
        public var id: String
        public var question: String
        public var output: String
        public var gold: String
        public var correct: Bool

        public init(id: String, question: String, output: String, gold: String, correct: Bool) {
            self.id = id; self.question = question; self.output = output; self.gold = gold; self.correct = correct
        }
    }

    /// The scores of a run (`tasks[0]` of the JSON report).
    public struct Result: Codable, Equatable, Sendable {
        public var task = "image-qa"
        public var n: Int
        public var correct: Int
        /// Exact match over every question.
        public var accuracy: Double
        /// Questions whose answer is not yes/no (e.g. the class name), and their accuracy.
        public var openN: Int
        public var openAccuracy: Double?
        public var yesNoN: Int
        public var yesNoAccuracy: Double?
        public var yesNoPrecision: Double?
        public var yesNoRecall: Double?
        public var yesNoF1: Double?

        enum CodingKeys: String, CodingKey {
            case task, n, correct, accuracy, openN = "open_n", openAccuracy = "open_accuracy", yesNoN = "yes_no_n"
            case yesNoAccuracy = "yes_no_accuracy", yesNoPrecision = "yes_no_precision", yesNoRecall = "yes_no_recall", yesNoF1 = "yes_no_f1"
        }

        public init(records: [Record]) {
            n = records.count
            correct = records.filter(\.correct).count
            accuracy = n == 0 ? 0 : Double(correct) / Double(n)
            let yesNo = records.filter { ImageQA.isYesNo($0.gold) }
            let open = records.filter { !ImageQA.isYesNo($0.gold) }
            openN = open.count
            openAccuracy = open.isEmpty ? nil : Double(open.filter(\.correct).count) / Double(open.count)
            yesNoN = yesNo.count
            guard !yesNo.isEmpty else { return }
            yesNoAccuracy = Double(yesNo.filter(\.correct).count) / Double(yesNo.count)
            let truePositive = yesNo.filter { ImageQA.saysYes($0.output) && ImageQA.saysYes($0.gold) }.count
            let predicted = yesNo.filter { ImageQA.saysYes($0.output) }.count
            let actual = yesNo.filter { ImageQA.saysYes($0.gold) }.count
            let precision = predicted == 0 ? 0 : Double(truePositive) / Double(predicted)
            let recall = actual == 0 ? 0 : Double(truePositive) / Double(actual)
            yesNoPrecision = precision
            yesNoRecall = recall
            yesNoF1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        }
    }

    /// Lower case, outer white space and final `.`, `!`, `?` removed.
    public static func normalize(_ text: String) -> String {
        var s = text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        while let last = s.last, ".!?".contains(last) { s.removeLast() }
        return s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func isYesNo(_ gold: String) -> Bool { ["yes", "no"].contains(normalize(gold)) }

    /// Whether an answer starts with "yes" (POPE's reading).
    static func saysYes(_ text: String) -> Bool { normalize(text).hasPrefix("yes") }

    /// Whether `output` answers `gold`: yes/no by its first word, anything else by exact match.
    public static func isCorrect(output: String, gold: String) -> Bool {
        if isYesNo(gold) {
            let first = normalize(output).split(whereSeparator: { !$0.isLetter }).first.map(String.init) ?? ""
            return first == normalize(gold)
        }
        return normalize(output) == normalize(gold)
    }

    /// Answers every question greedily (prompts of one length in batches of `batchSize`) and scores them.
    /// `decode` turns generated ids (stop token included) into text; `progress(done, total)` after each batch.
    public static func evaluate(model: MultimodalLM, questions: [VisualInstructionData.Question], tokenizer: SFTTokenizer,
                                decode: ([Int]) -> String, stop: Set<Int>, maxNewTokens: Int, batchSize: Int,
                                progress: (Int, Int) -> Void = { _, _ in }) throws -> (Result, [Record]) {
        let prompts = try questions.map {
            try SFTExample(parts: $0.prompt).tokenized(with: tokenizer, maxSeqLen: Int(Int32.max), trainOnInputs: true)
        }
        var outputs = [String](repeating: "", count: questions.count)
        let groups = Dictionary(grouping: prompts.indices, by: { prompts[$0].ids.count })
        var done = 0
        for length in groups.keys.sorted() {
            let members = groups[length]!
            for start in stride(from: 0, to: members.count, by: max(1, batchSize)) {
                let chunk = Array(members[start..<min(start + max(1, batchSize), members.count)])
                let spliced = chunk.enumerated().flatMap { b, index in prompts[index].splicedRows(sequence: b) }
                let generated = try model.greedy(ids: chunk.map { prompts[$0].ids }, spliced: spliced, maxNewTokens: maxNewTokens, stop: stop)
                for (index, ids) in zip(chunk, generated) { outputs[index] = decode(ids.filter { !stop.contains($0) }) }
                done += chunk.count
                progress(done, questions.count)
            }
        }
        let records = zip(questions, outputs).map { q, output in
            Record(id: q.id, question: q.question, output: output, gold: q.answer, correct: isCorrect(output: output, gold: q.answer))
        }
        return (Result(records: records), records)
    }
}
