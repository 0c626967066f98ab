import Foundation
import FuRAFormats

/// One question of an evaluation suite.
public struct EvalExample: Equatable, Sendable {
    /// Position of the record in its file.
    public var index: Int
    /// The question text that fills the prompt (`example["instruction"]`).
    public var instruction: String
    /// The gold answer: the lower-cased answer word of a multiple-choice task, the answer of a math task.
    public var gold: String
    /// The answer words this question offers (from its "Answer format:" line), in vocabulary order;
    /// empty for math tasks.
    public var choices: [String]
    /// The record's reference output, when present.
    public var output: String?

    public init(index: Int, instruction: String, gold: String, choices: [String], output: String? = nil) {
        self.index = index
        self.instruction = instruction
        self.gold = gold
        self.choices = choices
        self.output = output
    }
}

/// Loading LLM-Adapters JSON records (`instruction`, `input`, `output`, `answer`) for a task.
public enum EvalData {
    /// Reads `path` and checks every record for `task`.
    public static func load(path: String, task: EvalTask) throws -> [EvalExample] {
        let data: Data
        do { data = try TextFileData.read(path) } catch {
            throw EvalDataError.unreadable(file: path, reason: ErrorText.file(error))
        }
        return try parse(data, file: path, task: task)
    }

    /// Parses the bytes of a JSON file named `file` (used in messages) and checks every record.
    public static func parse(_ data: Data, file: String, task: EvalTask) throws -> [EvalExample] {
        let top: JSONValue
        do { top = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw EvalDataError.malformedJSON(file: file, reason: Self.reason(error))
        }
        guard case .array(let items) = top else { throw EvalDataError.notAnArray(file: file, actual: top.kind) }
        guard !items.isEmpty else { throw EvalDataError.empty(file: file) }
        return try items.enumerated().map { index, item in
            guard case .object(let fields) = item else {
                throw EvalDataError.recordNotObject(file: file, index: index, actual: item.kind)
            }
            return try example(fields, index: index, file: file, task: task)
        }
    }

    static func example(_ fields: [String: JSONValue], index: Int, file: String, task: EvalTask) throws -> EvalExample {
        func string(_ name: String, required: Bool, numberAllowed: Bool = false) throws -> String? {
            guard let value = fields[name] else {
                if required { throw EvalDataError.missingField(file: file, index: index, field: name) }
                return nil
            }
            switch value {
            case .string(let s): return s
            case .number(let text) where numberAllowed: return text
            case .null where !required: return nil
            default:
                throw EvalDataError.wrongFieldType(file: file, index: index, field: name,
                                                   expected: numberAllowed ? "a string or a number" : "a string", actual: value.kind)
            }
        }
        let instruction = try string("instruction", required: true) ?? ""
        _ = try string("input", required: false)
        let output = try string("output", required: false)
        let answer = try string("answer", required: true, numberAllowed: task.mathMode != nil) ?? ""

        if task.isMultipleChoice {
            let trimmed = answer.trimmingWhitespace
            let gold = task.lowercasesCompletion ? trimmed.lowercased() : trimmed
            guard task.vocabulary.contains(gold) else {
                throw EvalDataError.badAnswer(file: file, index: index, task: task.rawValue, answer: answer,
                                              expected: "one of " + task.vocabulary.joined(separator: "/"))
            }
            return EvalExample(index: index, instruction: instruction, gold: gold,
                               choices: choices(in: instruction, task: task, gold: gold), output: output)
        }
        guard let gold = MathAnswer.gold(answerField: answer, output: output) else {
            throw EvalDataError.badAnswer(file: file, index: index, task: task.rawValue, answer: answer,
                                          expected: "a non-empty answer (or a \\boxed{…} in output)")
        }
        if task.mathMode == .lastNumber && MathAnswer.numericValue(gold) == nil {
            throw EvalDataError.badAnswer(file: file, index: index, task: task.rawValue, answer: answer,
                                          expected: "a number such as 42, -3.5 or 1,000")
        }
        return EvalExample(index: index, instruction: instruction, gold: gold, choices: [], output: output)
    }

    /// The answer words a question offers, read from its last "Answer format: a/b/c" line; the whole
    /// vocabulary when the line is missing or does not include the gold answer.
    public static func choices(in instruction: String, task: EvalTask, gold: String) -> [String] {
        let text = ScalarText(instruction.lowercased())
        guard let at = text.rfind(ScalarText("answer format:")) else { return task.vocabulary }
        let line = text.suffix(from: at + 14).split("\n")[0].description
        let offered = Set(line.split(separator: "/").map { String($0).trimmingWhitespace })
        let words = task.vocabulary.filter(offered.contains)
        return words.contains(gold) ? words : task.vocabulary
    }

    static func reason(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        }
        return "\(error)"
    }
}

/// A JSON value, kept loose so that every record can be checked with a message of its own.
enum JSONValue: Decodable, Equatable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null; return }
        if let b = try? single.decode(Bool.self) { self = .bool(b); return }
        if let i = try? single.decode(Int.self) { self = .number(String(i)); return }
        if let d = try? single.decode(Double.self) { self = .number(String(d)); return }
        if let s = try? single.decode(String.self) { self = .string(s); return }
        if let a = try? single.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try single.decode([String: JSONValue].self))
    }

    /// "a string", "an array", … for messages.
    var kind: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
