/// Why an evaluation data file was refused; each message names the file, the record and the field.
public enum EvalDataError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case malformedJSON(file: String, reason: String)
    case notAnArray(file: String, actual: String)
    case empty(file: String)
    case recordNotObject(file: String, index: Int, actual: String)
    case missingField(file: String, index: Int, field: String)
    case wrongFieldType(file: String, index: Int, field: String, expected: String, actual: String)
    case badAnswer(file: String, index: Int, task: String, answer: String, expected: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            "\(file): cannot read the file (\(reason)); check the path given to --data."
        case let .malformedJSON(file, reason):
            "\(file): not valid JSON (\(reason)); expected an LLM-Adapters JSON list of records."
        case let .notAnArray(file, actual):
            "\(file): the top level is \(actual), expected a JSON array of records with instruction, input, output and answer."
        case let .empty(file):
            "\(file): the record list is empty; an evaluation needs at least one record."
        case let .recordNotObject(file, index, actual):
            "\(file): record \(index) is \(actual), expected an object with instruction, input, output and answer."
        case let .missingField(file, index, field):
            "\(file): record \(index) has no field \"\(field)\"."
        case let .wrongFieldType(file, index, field, expected, actual):
            "\(file): record \(index) field \"\(field)\" is \(actual), expected \(expected)."
        case let .badAnswer(file, index, task, answer, expected):
            "\(file): record \(index) answer \"\(answer)\" is not valid for task \(task): expected \(expected)."
        }
    }
}
