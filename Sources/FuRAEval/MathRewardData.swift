import Foundation
import FuRAFormats
import FuRATrain

/// Problems for math RL from JSON (a list of objects) or JSONL (one object per line).
///
/// Question: `problem`, else `question`, else `instruction` (LLM-Adapters). Gold answer: the `answer`
/// field (a string — a GSM8K `… #### N` tail is taken — or a number), else the last `\boxed{}` of
/// `solution` (MATH), else the last `\boxed{}` of `output`. A record without either is an error naming
/// its line; so is an empty file.
public enum MathRewardData {
    public static func load(path: String) throws -> [RewardExample] {
        let data: Data
        do { data = try TextFileData.read(path) } catch {
            throw TrainingError.unreadableData(path: path, reason: ErrorText.file(error))
        }
        return try parse(data, path: path)
    }

    public static func parse(_ data: Data, path: String) throws -> [RewardExample] {
        let text = String(decoding: data, as: UTF8.self)
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw TrainingError.emptyData(path: path, reason: "the file is empty") }
        var records: [(location: String, value: Any)] = []
        if trimmed.hasPrefix("[") {
            guard let list = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [Any] else {
                throw TrainingError.malformedRecord(path: path, location: "file", reason: "starts with [ but is not a JSON list")
            }
            records = list.enumerated().map { ("record \($0.offset + 1)", $0.element) }
        } else {
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let body = String(line).trimmingWhitespace
                guard !body.isEmpty else { continue }
                guard let value = try? JSONSerialization.jsonObject(with: Data(body.utf8)) else {
                    throw TrainingError.malformedRecord(path: path, location: "line \(i + 1)", reason: "not a JSON object")
                }
                records.append(("line \(i + 1)", value))
            }
        }
        guard !records.isEmpty else { throw TrainingError.emptyData(path: path, reason: "no record") }
        return try records.map { try example($0.value, path: path, location: $0.location) }
    }

    static func example(_ value: Any, path: String, location: String) throws -> RewardExample {
        guard let object = value as? [String: Any] else {
            throw TrainingError.malformedRecord(path: path, location: location, reason: "expected a JSON object")
        }
        guard let question = ["problem", "question", "instruction"].lazy.compactMap({ object[$0] as? String }).first,
              !question.trimmingWhitespace.isEmpty else {
            throw TrainingError.malformedRecord(path: path, location: location,
                                                reason: "no question: expected a non-empty string field problem, question or instruction")
        }
        var answerField = object["answer"] as? String
        if let number = object["answer"] as? NSNumber, !(object["answer"] is String) {
            let d = number.doubleValue
            answerField = d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
        }
        let gold = MathAnswer.gold(answerField: answerField.map(integralDecimal), output: nil)
            ?? (object["solution"] as? String).flatMap(MathAnswer.gold(fromSolution:))
            ?? (object["output"] as? String).flatMap(MathAnswer.boxedAnswer(in:))
        guard let gold, !gold.trimmingWhitespace.isEmpty else {
            throw TrainingError.malformedRecord(path: path, location: location,
                                                reason: "no gold answer: expected an answer field, or a solution/output with a \\boxed{…}")
        }
        return RewardExample(question: question, answer: gold)
    }

    /// `"4.0"` → `"4"`, `"-12.000"` → `"-12"`; any other text unchanged. LLM-Adapters writes integral answers
    /// as `"4.0"`, and the reference's rule (`is_equiv`, string equality after normalization) would never
    /// match a boxed `4` against it; a JSON number gets the same integral form above.
    static func integralDecimal(_ answer: String) -> String {
        let text = answer.trimmingWhitespace
        guard let dot = text.firstIndex(of: "."), dot > text.startIndex else { return answer }
        let whole = text[..<dot], fraction = text[text.index(after: dot)...]
        let digits = whole.first == "-" ? whole.dropFirst() : whole[...]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              !fraction.isEmpty, fraction.allSatisfy({ $0 == "0" }) else { return answer }
        return String(whole)
    }
}
