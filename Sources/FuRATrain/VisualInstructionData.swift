import Foundation
import FuRAFormats

/// How a visual conversation becomes text (LLaVA's `--version`): `plain` (LLaVA's stage-1 pretraining: the image, then
/// the reply and a newline; the human text is dropped), `vicuna_v1` (the reference's: a system line, `USER: … ASSISTANT:
/// …</s>` with the tokenizer's end-of-sequence text for `</s>`), `chat` (the model's own chat template).
public enum ConversationTemplate: String, Codable, CaseIterable, Sendable {
    case plain
    case vicunaV1 = "vicuna_v1"
    case chat

    /// LLaVA's `conv_vicuna_v1` system line.
    public static let vicunaSystem = "A chat between a curious user and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the user's questions."
}

/// LLaVA's visual instruction data: a JSON list of `{"id", "image", "conversations": [{"from": "human", "value":
/// "<image>\n…"}, {"from": "gpt", "value": "…"}, …]}`, images relative to an image folder. Records become multimodal
/// `SFTExample`s whose image parts name an index into `images` (shared by every file loaded, training and validation);
/// loss is taken on the assistant replies only.
public final class VisualInstructionData {
    /// The placeholder of an image in a human turn.
    public static let imageToken = "<image>"

    /// Image paths (absolute), indexed by the examples' `.image(source:)`.
    public private(set) var images: [String] = []
    private var imageIndex: [String: Int] = [:]
    public let imageFolder: String?
    public let template: ConversationTemplate
    /// Rows one image takes in a sequence (the tower's patches).
    public let imageRows: Int
    public let tokenizer: SFTTokenizer

    /// `imageFolder` (default: each data file's folder) holds the images; each image is `imageRows` rows.
    public init(imageFolder: String?, template: ConversationTemplate, imageRows: Int, tokenizer: SFTTokenizer) {
        self.imageFolder = imageFolder; self.template = template; self.imageRows = imageRows; self.tokenizer = tokenizer
    }

    /// A question to answer about an image (evaluation): the prompt's parts up to where the last reply starts, and
    /// that reply.
    public struct Question: Sendable {
        public var id: String
        public var prompt: [SFTExample.Part]
        /// The record's last gpt reply.
        public var answer: String
        /// The last human turn, without the image placeholder.
        public var question: String
    }

    /// The examples of the records in `path` (their images join `images`).
    public func load(path: String) throws -> [SFTExample] {
        try read(path: path, asPrompts: false).map { SFTExample(parts: $0.parts) }
    }

    /// The records of `path` as questions: every turn but the last reply is the prompt (their images join `images`).
    public func questions(path: String) throws -> [Question] {
        try read(path: path, asPrompts: true).map {
            Question(id: $0.id, prompt: $0.parts, answer: $0.conversation.last!.text,
                     question: $0.conversation[$0.conversation.count - 2].text.replacingOccurrences(of: Self.imageToken, with: "")
                        .trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// The prompt of one question about the image at `imagePath` (LLaVA's `<image>\n` before the question), under the
    /// template; the image joins `images`.
    public func prompt(question: String, imagePath: String) throws -> [SFTExample.Part] {
        guard FileManager.default.fileExists(atPath: imagePath) else {
            throw TrainingError.unreadableData(path: imagePath, reason: "no such image file")
        }
        let source = register(URL(fileURLWithPath: imagePath).standardizedFileURL.path)
        return try Self.parts([(true, Self.imageToken + "\n" + question), (false, "")], image: source, imageRows: imageRows,
                              template: template, tokenizer: tokenizer, asPrompt: true) {
            TrainingError.malformedRecord(path: imagePath, location: "prompt", reason: $0)
        }
    }

    /// The index of image `path` in `images`, added when new.
    func register(_ path: String) -> Int {
        if let index = imageIndex[path] { return index }
        imageIndex[path] = images.count
        images.append(path)
        return images.count - 1
    }

    func read(path: String, asPrompts: Bool) throws -> [(id: String, conversation: [(human: Bool, text: String)], parts: [SFTExample.Part])] {
        let imageToken = Self.imageToken
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TrainingError.unreadableData(path: path, reason: ErrorText.file(error))
        }
        guard let list = try? JSONSerialization.jsonObject(with: TextFileData.withoutByteOrderMark(data)) as? [Any] else {
            throw TrainingError.malformedRecord(path: path, location: "top level", reason: "expected a JSON list of LLaVA records")
        }
        guard !list.isEmpty else { throw TrainingError.emptyData(path: path, reason: "the list has no record") }
        let folder = URL(fileURLWithPath: imageFolder ?? URL(fileURLWithPath: path).deletingLastPathComponent().path)
        var examples: [(id: String, conversation: [(human: Bool, text: String)], parts: [SFTExample.Part])] = []
        for (n, item) in list.enumerated() {
            let record = item as? [String: Any] ?? [:]
            let id = (record["id"].map { "\($0)" }).map { ErrorText.shortened($0) } ?? "#\(n)"
            func fail(_ reason: String) -> TrainingError { .malformedRecord(path: path, location: "record \(id) (index \(n))", reason: reason) }
            guard let turns = record["conversations"] as? [[String: Any]], !turns.isEmpty else {
                throw fail("no \"conversations\" list of {\"from\", \"value\"} turns")
            }
            var conversation: [(human: Bool, text: String)] = []
            for (k, turn) in turns.enumerated() {
                guard let from = turn["from"] as? String, let value = turn["value"] as? String else {
                    throw fail("turn \(k) needs \"from\" and \"value\" strings")
                }
                let human = from == "human" || from == "user"
                guard human || from == "gpt" || from == "assistant" else { throw fail("turn \(k) is from \"\(ErrorText.shortened(from))\"; expected human or gpt") }
                guard human == (k % 2 == 0) else { throw fail("turns must alternate human, gpt, … (turn \(k) is from \(from))") }
                conversation.append((human, value))
            }
            guard conversation.count >= 2 else { throw fail("needs a human turn and a gpt reply") }
            let placeholders = conversation.reduce(0) { $0 + $1.text.components(separatedBy: imageToken).count - 1 }
            var source: Int?
            if let image = record["image"] {
                guard let name = image as? String, !name.isEmpty else { throw fail("\"image\" must be a file name") }
                guard placeholders == 1, conversation[0].text.contains(imageToken) else {
                    throw fail("has an image, so its first human turn needs exactly one \(imageToken) (found \(placeholders) in all turns)")
                }
                let file = name.hasPrefix("/") ? URL(fileURLWithPath: name) : folder.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: file.path) else {
                    throw fail("image '\(ErrorText.shortened(name))' is not in \(folder.path) (set --image-folder)")
                }
                source = register(file.path)
            } else if placeholders > 0 {
                throw fail("has \(imageToken) but no \"image\"")
            }
            if template == .plain && source == nil { throw fail("the plain template (stage 1) needs an image in every record") }
            examples.append((id, conversation, try Self.parts(conversation, image: source, imageRows: imageRows, template: template,
                                                              tokenizer: tokenizer, asPrompt: asPrompts, fail: fail)))
        }
        return examples
    }

    /// The parts of one conversation under `template`; `asPrompt` stops where the last reply would start.
    static func parts(_ conversation: [(human: Bool, text: String)], image: Int?, imageRows: Int, template: ConversationTemplate,
                      tokenizer: SFTTokenizer, asPrompt: Bool = false, fail: (String) -> TrainingError) throws -> [SFTExample.Part] {
        var segments: [(text: String, trains: Bool)] = []
        let replies = conversation.filter { !$0.human }.count
        switch template {
        case .plain:
            segments = [(imageToken, false)] + (asPrompt ? [] : [(conversation[1].text + "\n", true)])
        case .vicunaV1:
            segments = [(ConversationTemplate.vicunaSystem + " ", false)]
            for turn in conversation.dropLast(asPrompt ? 1 : 0) {
                if turn.human { segments.append(("USER: " + turn.text + " ASSISTANT: ", false)) } else {
                    segments.append((turn.text + tokenizer.eosText, true))
                }
            }
        case .chat:
            guard let render = tokenizer.chatTemplate else { throw fail("the model has no chat template; use --conversation-template vicuna_v1") }
            let messages = conversation.map { ChatMessage(role: $0.human ? "user" : "assistant", content: $0.text) }
            var done = ""
            var reply = 0
            for (k, turn) in conversation.enumerated() where !turn.human {
                reply += 1
                let before = try render(Array(messages[..<k]), true)
                if asPrompt && reply == replies {
                    guard before.hasPrefix(done) else { throw fail("the chat template does not render turn by turn as prefixes") }
                    segments.append((String(before.dropFirst(done.count)), false))
                    break
                }
                let after = try render(Array(messages[...k]), false)
                guard before.hasPrefix(done), after.hasPrefix(before) else {
                    throw fail("the chat template does not render turn by turn as prefixes; use --conversation-template vicuna_v1")
                }
                segments.append((String(before.dropFirst(done.count)), false))
                segments.append((String(after.dropFirst(before.count)), true))
                done = after
            }
        }
        var parts: [SFTExample.Part] = []
        for segment in segments {
            let pieces = segment.text.components(separatedBy: imageToken)
            for (k, piece) in pieces.enumerated() {
                if k > 0, let image { parts.append(.image(source: image, count: imageRows)) }
                if !piece.isEmpty { parts.append(.text(piece, trains: segment.trains)) }
            }
        }
        return parts
    }
}
