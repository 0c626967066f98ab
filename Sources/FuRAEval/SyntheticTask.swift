import Foundation
import FuRATensor

/// Small generated tasks in the LLM-Adapters record format, for demos and smoke runs.
///
/// The project makes its own demo data instead of shipping any: each record is
/// `{"instruction", "input": "", "output": "the correct answer is X", "answer": "X"}` and the answers
/// use the BoolQ vocabulary (`true`/`false`), so `fura eval --task boolq` grades them.
public enum SyntheticTask: String, CaseIterable, Sendable {
    /// "Is the number N even?" for 3–4 digit N.
    case parity
    /// "Is A larger than B?" for 2–3 digit A ≠ B.
    case compare
    /// "Is a W an animal?" over built-in word lists (the base model knows the words; the task teaches the format).
    case animal

    static let animals = ["dog", "cat", "horse", "cow", "sheep", "goat", "lion", "tiger", "bear", "wolf", "fox",
                          "rabbit", "mouse", "elephant", "giraffe", "zebra", "monkey", "eagle", "owl", "parrot",
                          "shark", "whale", "dolphin", "salmon", "frog", "snake", "lizard", "turtle", "bee", "ant",
                          "spider", "butterfly", "camel", "kangaroo", "penguin", "duck", "chicken", "pig", "deer", "bat"]
    static let objects = ["table", "chair", "hammer", "bicycle", "car", "spoon", "fork", "knife", "book", "pencil",
                          "window", "door", "bottle", "cup", "lamp", "phone", "computer", "shoe", "shirt", "hat",
                          "apple", "banana", "carrot", "potato", "bread", "cheese", "rock", "river", "mountain", "cloud",
                          "train", "boat", "clock", "mirror", "pillow", "blanket", "guitar", "piano", "candle", "key"]

    /// One record as a JSON-ready dictionary.
    public struct Record: Codable, Equatable, Sendable {
        public var instruction: String
        public var input: String
        public var output: String
        public var answer: String
    }

    /// `count` records drawn from a generator seeded with `seed`; half true, half false, shuffled.
    public func records(count: Int, seed: UInt64) -> [Record] {
        var rng = RNG(seed: seed)
        return (0..<count).map { i in
            let truth = i % 2 == 0
            let question: String
            switch self {
            case .parity:
                var n = 100 + rng.int(below: 9900)
                if (n % 2 == 0) != truth { n += 1 }
                question = "Is the number \(n) even?"
            case .compare:
                var a = 10 + rng.int(below: 990), b = 10 + rng.int(below: 990)
                if a == b { b += 1 }
                if (a > b) != truth { swap(&a, &b) }
                question = "Is \(a) larger than \(b)?"
            case .animal:
                let words = truth ? Self.animals : Self.objects
                question = "Is a \(words[rng.int(below: words.count)]) an animal?"
            }
            let answer = truth ? "true" : "false"
            return Record(
                instruction: "Please answer the following question with true or false, question: \(question)\n\nAnswer format: true/false",
                input: "", output: "the correct answer is \(answer)", answer: answer)
        }.shuffledDeterministically(seed: seed &+ 1)
    }

    /// The records as pretty-printed JSON bytes (a JSON list, as LLM-Adapters files are).
    public func json(count: Int, seed: UInt64) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(records(count: count, seed: seed))
    }
}

extension Array {
    /// A Fisher–Yates shuffle driven by `RNG(seed:)`, so the order is a pure function of the seed.
    func shuffledDeterministically(seed: UInt64) -> [Element] {
        var rng = RNG(seed: seed)
        var out = self
        for i in stride(from: out.count - 1, to: 0, by: -1) { out.swapAt(i, rng.int(below: i + 1)) }
        return out
    }
}
