/// An evaluation suite: the eight commonsense tasks of LLM-Adapters (Docs/tracks.md §1, §4.6) and the math
/// tasks (numeric answers and AQuA letters, §4.7; boxed answers, §5.2).
public enum EvalTask: String, CaseIterable, Sendable, Codable {
    case boolq
    case piqa
    case socialIQA = "social_i_qa"
    case hellaswag
    case winogrande
    case arcEasy = "ARC-Easy"
    case arcChallenge = "ARC-Challenge"
    case openbookqa
    case gsm8k
    case aqua = "AQuA"
    case math

    /// The eight commonsense tasks in the column order of the paper's tables.
    public static let commonsense: [EvalTask] = [.boolq, .piqa, .socialIQA, .hellaswag, .winogrande, .arcEasy, .arcChallenge, .openbookqa]

    /// The task named `name` (its LLM-Adapters folder name, case-insensitive), or nil.
    public init?(name: String) {
        let lower = name.lowercased()
        guard let task = EvalTask.allCases.first(where: { $0.rawValue.lowercased() == lower }) else { return nil }
        self = task
    }

    /// The answer vocabulary of a multiple-choice task in the reference's alternation order; empty for math.
    public var vocabulary: [String] {
        switch self {
        case .boolq: ["true", "false"]
        case .piqa: ["solution1", "solution2"]
        case .socialIQA, .arcChallenge, .arcEasy, .openbookqa: ["answer1", "answer2", "answer3", "answer4", "answer5"]
        case .hellaswag: ["ending1", "ending2", "ending3", "ending4"]
        case .winogrande: ["option1", "option2"]
        case .aqua: ["A", "B", "C", "D", "E"]
        case .gsm8k, .math: []
        }
    }

    /// How a math task reads its prediction; nil for multiple-choice tasks.
    public var mathMode: MathAnswer.Mode? {
        switch self {
        case .gsm8k: .lastNumber
        case .math: .boxed
        default: nil
        }
    }

    /// Whether the task is multiple choice (graded by the first vocabulary match).
    public var isMultipleChoice: Bool { !vocabulary.isEmpty }

    /// Whether the completion is lower-cased before matching (all but AQuA, whose reference matches
    /// `A|B|C|D|E` case-sensitively and compares with the gold as is).
    public var lowercasesCompletion: Bool { self != .aqua }

    /// Whether the task can be scored by log-likelihood (the commonsense tasks, whose targets are
    /// "the correct answer is X").
    public var supportsLogLikelihood: Bool { Self.commonsense.contains(self) }

    /// The column heading of the paper's tables.
    public var displayName: String {
        switch self {
        case .boolq: "BoolQ"
        case .piqa: "PIQA"
        case .socialIQA: "SIQA"
        case .hellaswag: "HellaS."
        case .winogrande: "WinoG."
        case .arcEasy: "ARC-e"
        case .arcChallenge: "ARC-c"
        case .openbookqa: "OBQA"
        case .gsm8k: "GSM8K"
        case .aqua: "AQuA"
        case .math: "MATH"
        }
    }

    /// The LLM-Adapters target text for the answer word `answer` ("the correct answer is X").
    public static func target(answer: String) -> String { "the correct answer is \(answer)" }

    /// The candidate continuations of the log-likelihood protocol: the target text of each answer
    /// word, restricted to the choices a question offers (`choiceCount`, e.g. 4 for most ARC questions).
    public func candidates(choiceCount: Int? = nil) -> [String] {
        let words = choiceCount.map { Array(vocabulary.prefix(max(0, $0))) } ?? vocabulary
        return words.map(Self.target(answer:))
    }
}
