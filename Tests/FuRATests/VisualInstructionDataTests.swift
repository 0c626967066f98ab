import Foundation
import FuRAEval
import FuRAFormats
import FuRAModels
import FuRATrain
import FuRAVision
import Testing

/// LLaVA records → multimodal examples: templates, masking, image rows, and the typed refusals of bad records.
@Suite struct VisualInstructionDataTests {
    /// Bytes as tokens; a ChatML-like template.
    static let tokenizer = SFTTokenizer(encode: { $0.utf8.map(Int.init) }, eosText: "</s>", padId: 0, chatTemplate: { messages, generation in
        messages.map { "<|\($0.role)|>\($0.content)<|end|>" }.joined() + (generation ? "<|assistant|>" : "")
    })

    static func folder(records: Any, images: [String] = ["a.png"]) throws -> String {
        let dir = try FormatFixtures.temporaryDirectory("llava")
        for name in images {
            try Data(try PixelImage(width: 2, height: 2, channels: 1, pixels: [0, 64, 128, 255]).encoded())
                .write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        try JSONSerialization.data(withJSONObject: records).write(to: URL(fileURLWithPath: dir + "/data.json"))
        return dir
    }

    static let record: [String: Any] = ["id": "r1", "image": "a.png", "conversations": [
        ["from": "human", "value": "<image>\nWhat is it?"], ["from": "gpt", "value": "A bag."],
        ["from": "human", "value": "Sure?"], ["from": "gpt", "value": "Yes."]]]

    /// The text of every part, with images as [IMG×n], and which parts train.
    static func render(_ parts: [SFTExample.Part]) -> [String] {
        parts.map { part in
            switch part {
            case let .text(text, trains): return (trains ? "+" : "-") + text
            case let .image(source, count): return "[IMG\(source)×\(count)]"
            }
        }
    }

    @Test func vicunaV1TrainsOnTheRepliesWithTheEndOfSequenceText() throws {
        let dir = try Self.folder(records: [Self.record])
        let data = VisualInstructionData(imageFolder: nil, template: .vicunaV1, imageRows: 3, tokenizer: Self.tokenizer)
        let examples = try data.load(path: dir + "/data.json")
        #expect(data.images == [URL(fileURLWithPath: dir + "/a.png").path])
        #expect(Self.render(try #require(examples.first?.parts)) == [
            "-" + ConversationTemplate.vicunaSystem + " ", "-USER: ", "[IMG0×3]", "-\nWhat is it? ASSISTANT: ", "+A bag.</s>",
            "-USER: Sure? ASSISTANT: ", "+Yes.</s>"])
    }

    @Test func plainKeepsTheImageAndTheFirstReply() throws {
        let dir = try Self.folder(records: [Self.record])
        let data = VisualInstructionData(imageFolder: dir, template: .plain, imageRows: 2, tokenizer: Self.tokenizer)
        #expect(Self.render(try #require(try data.load(path: dir + "/data.json").first?.parts)) == ["[IMG0×2]", "+A bag.\n"])
    }

    @Test func chatTemplateSplitsTurnByTurnAndPromptsStopBeforeTheLastReply() throws {
        let dir = try Self.folder(records: [Self.record])
        let data = VisualInstructionData(imageFolder: dir, template: .chat, imageRows: 2, tokenizer: Self.tokenizer)
        #expect(Self.render(try #require(try data.load(path: dir + "/data.json").first?.parts)) == [
            "-<|user|>", "[IMG0×2]", "-\nWhat is it?<|end|><|assistant|>", "+A bag.<|end|>",
            "-<|user|>Sure?<|end|><|assistant|>", "+Yes.<|end|>"])
        let question = try #require(try data.questions(path: dir + "/data.json").first)
        #expect(question.answer == "Yes." && question.question == "Sure?")
        #expect(Self.render(question.prompt).last == "-<|user|>Sure?<|end|><|assistant|>")
    }

    @Test func tokenizedImagesArePlaceholderRowsThatNeverTrain() throws {
        let parts: [SFTExample.Part] = [.text("ab", trains: false), .image(source: 4, count: 3), .text("cd", trains: true)]
        let tokenized = try SFTExample(parts: parts).tokenized(with: Self.tokenizer, maxSeqLen: 64, trainOnInputs: false)
        #expect(tokenized.ids == [97, 98, 0, 0, 0, 99, 100])
        #expect(tokenized.labels == [-100, -100, -100, -100, 99, 100, -100])
        #expect(tokenized.images.map { [$0.position, $0.count, $0.source] } == [[2, 3, 4]])
        // An image that does not fit is dropped with everything after it.
        let cut = try SFTExample(parts: parts).tokenized(with: Self.tokenizer, maxSeqLen: 4, trainOnInputs: false)
        #expect(cut.ids == [97, 98] && cut.images.isEmpty)
        let dataset = try SFTDataset(examples: [SFTExample(parts: parts)], tokenizer: Self.tokenizer, batchSize: 1,
                                     gradientAccumulation: 1, maxSeqLen: 64, trainOnInputs: false, seed: 1)
        #expect(try dataset.window(forStep: 0)[0].spliced == [SplicedRows(sequence: 0, position: 2, count: 3, source: 4)])
    }

    @Test func badRecordsAreRefusedByName() throws {
        func refusal(_ records: Any, images: [String] = ["a.png"], template: ConversationTemplate = .vicunaV1) throws -> String {
            let dir = try Self.folder(records: records, images: images)
            let data = VisualInstructionData(imageFolder: nil, template: template, imageRows: 2, tokenizer: Self.tokenizer)
            do { _ = try data.load(path: dir + "/data.json") } catch let error as TrainingError { return error.description }
            return "accepted"
        }
        let turns: [[String: String]] = [["from": "human", "value": "<image>\nQ?"], ["from": "gpt", "value": "A."]]
        #expect(try refusal([["id": "x", "image": "missing.png", "conversations": turns]]).contains("'missing.png' is not in"))
        #expect(try refusal([["id": "x", "conversations": turns]]).contains("has <image> but no \"image\""))
        #expect(try refusal([["id": "x", "image": "a.png", "conversations": [["from": "human", "value": "Q?"], ["from": "gpt", "value": "A."]]]])
            .contains("exactly one <image>"))
        #expect(try refusal([["id": "x", "image": "a.png", "conversations": [turns[1], turns[0]]]]).contains("alternate"))
        #expect(try refusal(["not a list": 1]).contains("expected a JSON list"))
        #expect(try refusal([["id": "x", "conversations": [["from": "human", "value": "Q?"], ["from": "gpt", "value": "A."]]]],
                            template: .plain).contains("plain template"))
    }

    @Test func imagesThatAreNotPNGAreRefusedByName() throws {
        let dir = try FormatFixtures.temporaryDirectory("imagefile")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).write(to: URL(fileURLWithPath: dir + "/x.jpg"))
        try Data("GIF89a".utf8).write(to: URL(fileURLWithPath: dir + "/x.gif"))
        for (name, expected) in [("x.jpg", "not a JPEG fura reads"), ("x.gif", "neither PNG nor JPEG"), ("none.png", "no such file")] {
            do { _ = try ImageFile.read(path: dir + "/" + name); Issue.record("\(name) accepted") } catch let error as VisionDataError {
                #expect(error.description.contains(expected), "\(error)")
            }
        }
    }
}

@Suite struct ImageQAScoringTests {
    @Test func exactMatchAfterNormalizingAndYesNoByTheFirstWord() {
        #expect(ImageQA.isCorrect(output: " sneaker.", gold: "Sneaker."))
        #expect(!ImageQA.isCorrect(output: "A sneaker.", gold: "Sneaker."))
        #expect(ImageQA.isCorrect(output: "Yes, it is.", gold: "Yes."))
        #expect(!ImageQA.isCorrect(output: "Yesterday", gold: "Yes."))
        #expect(!ImageQA.isCorrect(output: "No.", gold: "Yes."))
    }

    @Test func popeFiguresCountYesAsPositive() {
        func record(_ output: String, _ gold: String) -> ImageQA.Record {
            ImageQA.Record(id: "", question: "", output: output, gold: gold, correct: ImageQA.isCorrect(output: output, gold: gold))
        }
        // TP 2, FP 1, FN 1, TN 1; one open question right, one wrong.
        let result = ImageQA.Result(records: [record("Yes.", "Yes."), record("Yes.", "Yes."), record("Yes.", "No."), record("No.", "Yes."),
                                             record("No.", "No."), record("Bag.", "Bag."), record("Coat.", "Shirt.")])
        #expect(result.n == 7 && result.correct == 4 && result.yesNoN == 5 && result.openN == 2)
        #expect(result.yesNoAccuracy == 0.6 && result.openAccuracy == 0.5)
        #expect(abs((result.yesNoPrecision ?? 0) - 2.0 / 3) < 1e-12 && abs((result.yesNoRecall ?? 0) - 2.0 / 3) < 1e-12)
        #expect(abs((result.yesNoF1 ?? 0) - 2.0 / 3) < 1e-12)
    }
}

/// JPEG through libjpeg-turbo against Pillow's decoding of the same files (scripts/fixtures/jpeg_vectors.py).
@Suite struct JPEGTests {
    @Test func decodesAsPillowDoes() throws {
        let cases = try #require(try FormatFixtures.json("jpeg_vectors.json")["cases"] as? [[String: Any]])
        #expect(cases.count == 3)
        for (index, c) in cases.enumerated() {
            let (jpegText, pixelText) = (try #require(c["jpeg"] as? String), try #require(c["pixels"] as? String))
            let jpeg = [UInt8](try #require(Data(base64Encoded: jpegText)))
            let expected = [UInt8](try #require(Data(base64Encoded: pixelText)))
            let image = try PixelImage(jpeg: jpeg, path: "case\(index).jpg")
            #expect(image.width == c["width"] as? Int && image.height == c["height"] as? Int && image.channels == c["channels"] as? Int)
            let worst = zip(image.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 255
            #expect(image.pixels.count == expected.count && worst <= 1, "case \(index): max |Δ| \(worst)")
            // Cut short, the same file is a typed, one-line refusal.
            do { _ = try PixelImage(jpeg: Array(jpeg.prefix(40)), path: "cut.jpg"); Issue.record("a cut JPEG decoded") } catch let error as VisionDataError {
                #expect(error.description.contains("cut.jpg") && !error.description.contains("\n"))
            }
        }
    }
}
