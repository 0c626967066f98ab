import Foundation
import FuRAFormats
import FuRAModels
import FuRATrain
import Testing

@Suite struct SFTDataTests {
    static let header = "<s> Below is an instruction that describes a task. Write a response that appropriately completes the request.  \n\n### Instruction:\n"

    @Test func llmAdaptersPromptBytesAndTarget() throws {
        let json = #"[{"instruction": "Is the sky blue?\n\nAnswer format: true/false", "input": "", "output": "the correct answer is true</s>", "answer": "true"}]"#
        let examples = try SFTRecords.parse(Data(json.utf8), path: "train.json", tokenizer: CharacterTokenizer.sft)
        #expect(examples.count == 1)
        let expectedSource = Self.header + "Is the sky blue?\n\nAnswer format: true/false\n                \n### Response:\n"
        #expect(examples[0].source == expectedSource)
        // Length from Python: len(BASE_PROMPT.format(instruction=...).encode()).
        #expect(Array(examples[0].source.utf8).count == 205)
        #expect(examples[0].source.contains("false\n" + String(repeating: " ", count: 16) + "\n### Response:\n"))
        #expect(examples[0].target == "the correct answer is true \u{4}")
    }

    @Test func nonEmptyInputReplacesInstruction() throws {
        let json = #"[{"instruction": "ignored", "input": "use me", "output": "x"}]"#
        let example = try SFTRecords.parse(Data(json.utf8), path: "a.json", tokenizer: CharacterTokenizer.sft)[0]
        #expect(example.source.contains("### Instruction:\nuse me\n"))
        #expect(!example.source.contains("ignored"))
    }

    @Test func promptPositionsAreMasked() throws {
        let example = SFTExample(source: "ab", target: "cd")
        let t = try example.tokenized(with: CharacterTokenizer.sft, maxSeqLen: 100, trainOnInputs: false)
        #expect(t.ids == [97, 98, 99, 100])
        // Position 0 predicts "b" (prompt: masked); position 1 predicts "c"; 2 predicts "d"; 3 predicts nothing.
        #expect(t.labels == [-100, 99, 100, -100])
        let all = try example.tokenized(with: CharacterTokenizer.sft, maxSeqLen: 100, trainOnInputs: true)
        #expect(all.labels == [98, 99, 100, -100])
        let cut = try example.tokenized(with: CharacterTokenizer.sft, maxSeqLen: 3, trainOnInputs: false)
        #expect(cut.ids == [97, 98, 99])
        #expect(cut.labels == [-100, 99, -100])
    }

    @Test func llmAdaptersRecordMasksExactlyThePrompt() throws {
        let json = #"[{"instruction": "Q?", "input": "", "output": "the correct answer is false", "answer": "false"}]"#
        let example = try SFTRecords.parse(Data(json.utf8), path: "t.json", tokenizer: CharacterTokenizer.sft)[0]
        let t = try example.tokenized(with: CharacterTokenizer.sft, maxSeqLen: 2048, trainOnInputs: false)
        let promptLength = example.source.unicodeScalars.count
        #expect(t.ids.count == promptLength + "the correct answer is false \u{4}".count)
        #expect(t.labels[..<(promptLength - 1)].allSatisfy { $0 == -100 })
        #expect(t.labels[promptLength - 1] == Int(UInt8(ascii: "t")))
        #expect(t.targetCount == "the correct answer is false \u{4}".count)
        #expect(t.labels.last == -100)
    }

    @Test func jsonlFormats() throws {
        let template: ([ChatMessage], Bool) throws -> String = { messages, generation in
            messages.map { "<\($0.role)>\($0.content)</>" }.joined() + (generation ? "<assistant>" : "")
        }
        var tokenizer = CharacterTokenizer.sft
        tokenizer.chatTemplate = template
        let text = """
        {"text": "hello"}

        {"prompt": "2+2=", "completion": "4"}
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
        """
        let examples = try SFTRecords.parse(Data(text.utf8), path: "d.jsonl", tokenizer: tokenizer)
        #expect(examples == [
            SFTExample(source: "", target: "hello\u{4}"),
            SFTExample(source: "2+2=", target: "4\u{4}"),
            SFTExample(source: "<user>hi</><assistant>", target: "yo</>"),
        ])
        let plain = try examples[0].tokenized(with: tokenizer, maxSeqLen: 64, trainOnInputs: false)
        #expect(plain.labels == Array(plain.ids.dropFirst()) + [-100])
    }

    @Test func malformedLinesNameFileAndLine() throws {
        let bad = "{\"text\": \"ok\"}\n{\"text\": 5}\n"
        #expect(throws: TrainingError.malformedRecord(path: "x.jsonl", location: "line 2", reason: "field \"text\" must be a string")) {
            try SFTRecords.parse(Data(bad.utf8), path: "x.jsonl", tokenizer: CharacterTokenizer.sft)
        }
        do {
            _ = try SFTRecords.parse(Data("{\"text\": \"ok\"}\n\n{not json\n".utf8), path: "y.jsonl", tokenizer: CharacterTokenizer.sft)
            Issue.record("expected an error")
        } catch let TrainingError.malformedRecord(path, location, _) {
            #expect(path == "y.jsonl" && location == "line 3")
        }
        do {
            _ = try SFTRecords.parse(Data(#"[{"instruction": "a", "output": "b"}, {"input": "c"}]"#.utf8), path: "z.json", tokenizer: CharacterTokenizer.sft)
            Issue.record("expected an error")
        } catch let TrainingError.malformedRecord(path, location, reason) {
            #expect(path == "z.json" && location == "record 1 (0-based)" && reason.contains("unknown record"))
        }
        #expect(throws: TrainingError.self) {
            try SFTRecords.parse(Data(#"{"messages": [{"role": "user", "content": "q"}]}"#.utf8), path: "m.jsonl", tokenizer: CharacterTokenizer.sft)
        }
    }

    static func examples(_ n: Int) -> [SFTExample] {
        (0..<n).map { SFTExample(source: "q\($0) ", target: String(repeating: "a", count: 1 + $0 % 5)) }
    }

    @Test func splitAndOrderArePureFunctionsOfTheSeed() throws {
        func dataset(seed: UInt64) throws -> SFTDataset {
            try SFTDataset(examples: Self.examples(23), valSize: 3, tokenizer: CharacterTokenizer.sft, batchSize: 4,
                           gradientAccumulation: 2, maxSeqLen: 64, trainOnInputs: false, seed: seed)
        }
        let a = try dataset(seed: 7), b = try dataset(seed: 7), c = try dataset(seed: 8)
        #expect(a.train == b.train && a.validation == b.validation)
        #expect(a.validation.count == 3 && a.train.count == 20)
        #expect(Set((a.train + a.validation).map(\.source)).count == 23)
        #expect(a.train != c.train)
        #expect(a.order(epoch: 1) == b.order(epoch: 1))
        #expect(a.order(epoch: 0) != a.order(epoch: 1))
        // 20 examples, batch 4 ⇒ 5 micro-batches; accumulation 2 ⇒ 3 steps per epoch, the last with one micro-batch.
        #expect(a.stepsPerEpoch == 3)
        #expect(try a.window(forStep: 2).count == 1)
        #expect(try a.window(forStep: 3) == (try a.window(forStep: 3)))
        #expect(a.cursor(afterSteps: 4) == DataCursor(epoch: 1, microBatch: 2))
        // Every example appears once per epoch.
        let sources = try (0..<3).flatMap { try a.window(forStep: $0) }.flatMap(\.ids).map { row in
            String(decoding: row.prefix { $0 != 0 && $0 != 32 }.map { UInt8($0) }, as: UTF8.self)
        }
        #expect(Set(sources).count == 20)
    }

    @Test func batchesAreRightPadded() throws {
        let d = try SFTDataset(examples: [SFTExample(source: "ab", target: "c"), SFTExample(source: "a", target: "bcde")],
                               validation: [], tokenizer: CharacterTokenizer.sft, batchSize: 2, gradientAccumulation: 1,
                               maxSeqLen: 10, trainOnInputs: false, seed: 1)
        let batch = try d.batch(d.train)
        #expect(batch.ids == [[97, 98, 99, 0, 0], [97, 98, 99, 100, 101]])
        #expect(batch.labels == [[-100, 99, -100, -100, -100], [98, 99, 100, 101, -100]])
        #expect(batch.lengths == [3, 5])
    }
}
