import Foundation
import FuRATensor

/// Fashion-MNIST as LLaVA visual-instruction data: a JSON list of `{"id", "image", "conversations": [{"from": "human",
/// "value": "<image>\n…"}, {"from": "gpt", "value": "…"}]}` and the images as PNG, for `--image-folder`.
/// Three kinds of record, in turn: "What item of clothing is shown?" (the class name), a yes/no question about a class
/// (half of them true), and a short caption (stage-1 pretraining data).
public enum FashionMNISTInstructions {
    public struct Record: Codable, Equatable {
        public struct Turn: Codable, Equatable { public var from: String; public var value: String }
        public var id: String
        public var image: String
        public var conversations: [Turn]
    }

    /// The kinds of question a record may ask.
    public enum Question: String, CaseIterable, Sendable {
        case name, yesno, caption
        var kind: Int { Self.allCases.firstIndex(of: self)! }
    }

    /// `count` records from `data` (images drawn without repeats by `seed`), their PNGs written into `imageDirectory`;
    /// record k asks question `questions[k % questions.count]`.
    public static func write(_ data: FashionMNIST, split: FashionMNIST.Split, count: Int, seed: UInt64,
                             questions: [Question] = Question.allCases, to directory: String) throws -> [Record] {
        guard !questions.isEmpty else { throw VisionDataError.malformed(path: "--questions", reason: "name at least one of name, yesno, caption") }
        guard count > 0, count <= data.images.count else {
            throw VisionDataError.malformed(path: "--count", reason: "\(count) records: the \(split.rawValue) split has \(data.images.count) images")
        }
        let imageDirectory = directory + "/images"
        try FileManager.default.createDirectory(atPath: imageDirectory, withIntermediateDirectories: true)
        var rng = RNG(seed: seed)
        var order = Array(data.images.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        var records: [Record] = []
        for (k, index) in order.prefix(count).enumerated() {
            let name = "\(split.rawValue)-\(index).png"
            let png = try PixelImage(width: FashionMNIST.side, height: FashionMNIST.side, channels: 1, pixels: data.images[index]).encoded()
            try Data(png).write(to: URL(fileURLWithPath: imageDirectory + "/" + name))
            // LLaVA's paths are relative to --image-folder, which is DIR.
            let (question, answer) = conversation(kind: questions[k % questions.count].kind, label: data.labels[index], rng: &rng)
            records.append(Record(id: "fashion-mnist-\(split.rawValue)-\(index)", image: "images/" + name,
                                  conversations: [.init(from: "human", value: "<image>\n" + question), .init(from: "gpt", value: answer)]))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(records).write(to: URL(fileURLWithPath: directory + "/data.json"), options: .atomic)
        return records
    }

    /// The question and answer of a record of `kind` (0 name, 1 yes/no, 2 caption) for class `label`.
    static func conversation(kind: Int, label: Int, rng: inout RNG) -> (String, String) {
        let names = FashionMNIST.classNames
        switch kind {
        case 0: return ("What item of clothing is shown?", names[label].prefix(1).uppercased() + names[label].dropFirst() + ".")
        case 1:
            let yes = rng.next() % 2 == 0
            var asked = label
            if !yes { asked = (label + 1 + Int(rng.next() % UInt64(names.count - 1))) % names.count }
            let article = "aeiou".contains(names[asked].first!) ? "an" : "a"
            return ("Is this \(article) \(names[asked])? Answer yes or no.", yes ? "Yes." : "No.")
        default: return ("Describe the image briefly.", "A grey photo of a \(names[label]) on a black background.")
        }
    }
}
