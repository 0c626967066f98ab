import Foundation
import FuRAFormats

/// Reads supervised fine-tuning data into `SFTExample`s.
///
/// Formats, detected per file (a JSON list if the first non-blank byte is `[`, else JSON Lines) and per record:
/// - LLM-Adapters (`instruction`, `input`, `output`, `answer`): the reference training prompt of Docs/tracks.md §2;
/// - `prompt` + `completion`: the completion (plus end-of-sequence text) takes loss;
/// - `messages` (`role`/`content` list ending with an assistant turn): rendered by the caller's chat
///   template; only the last assistant turn takes loss;
/// - `text`: every token takes loss.
public enum SFTRecords {
    /// Loads every record of the file at `path`. Errors name the file and the line (JSONL) or record index.
    public static func load(path: String, tokenizer: SFTTokenizer) throws -> [SFTExample] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TrainingError.unreadableData(path: path, reason: ErrorText.file(error))
        }
        return try parse(data, path: path, tokenizer: tokenizer)
    }

    /// Parses file contents (see `load`); `path` is only used in messages.
    public static func parse(_ data: Data, path: String, tokenizer: SFTTokenizer) throws -> [SFTExample] {
        let data = TextFileData.withoutByteOrderMark(data)
        let firstByte = data.first { !(" \t\r\n" as String).utf8.contains($0) }
        var examples = [SFTExample]()
        if firstByte == UInt8(ascii: "[") {
            let list: Any
            do { list = try JSONSerialization.jsonObject(with: data) } catch {
                throw TrainingError.malformedRecord(path: path, location: "the JSON list", reason: "not valid JSON: \(ErrorText.json(error))")
            }
            guard let records = list as? [Any] else {
                throw TrainingError.malformedRecord(path: path, location: "the file", reason: "expected a JSON list of objects")
            }
            for (index, record) in records.enumerated() {
                examples.append(try example(record, path: path, location: "record \(index) (0-based)", tokenizer: tokenizer))
            }
        } else {
            guard let text = String(data: data, encoding: .utf8) else {
                throw TrainingError.unreadableData(path: path, reason: "not UTF-8 text")
            }
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                let location = "line \(index + 1)"
                let record: Any
                do { record = try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) } catch {
                    throw TrainingError.malformedRecord(path: path, location: location, reason: "not valid JSON: \(ErrorText.json(error))")
                }
                examples.append(try example(record, path: path, location: location, tokenizer: tokenizer))
            }
        }
        guard !examples.isEmpty else { throw TrainingError.emptyData(path: path, reason: "the file holds no record") }
        return examples
    }

    /// One record → one example.
    static func example(_ record: Any, path: String, location: String, tokenizer: SFTTokenizer) throws -> SFTExample {
        func fail(_ reason: String) -> TrainingError { .malformedRecord(path: path, location: location, reason: reason) }
        guard let object = record as? [String: Any] else { throw fail("expected a JSON object") }
        func string(_ key: String) throws -> String? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let text = value as? String else { throw fail("field \"\(key)\" must be a string") }
            return text
        }
        if let output = try string("output") {
            // The reference's `get_instruction_or_prompt`: input if non-empty, else instruction (else prompt…).
            var instruction: String?
            for key in ["input", "instruction", "prompt", "question", "Problem", "problem"] {
                if let value = try string(key), !value.isEmpty { instruction = value; break }
            }
            guard let instruction else {
                throw fail("an \"output\" record needs a non-empty \"instruction\" or \"input\"")
            }
            return SFTExample(source: SFTPrompt.llmAdaptersTraining(instruction: instruction),
                              target: SFTPrompt.llmAdaptersTarget(output: output, eosText: tokenizer.eosText))
        }
        if let value = object["messages"] {
            guard let list = value as? [Any] else { throw fail("\"messages\" must be a list") }
            var messages = [ChatMessage]()
            for (i, item) in list.enumerated() {
                guard let m = item as? [String: Any], let role = m["role"] as? String, let content = m["content"] as? String else {
                    throw fail("message \(i) needs string \"role\" and \"content\"")
                }
                messages.append(ChatMessage(role: role, content: content))
            }
            guard let last = messages.last, last.role == "assistant" else {
                throw fail("\"messages\" must end with an assistant message (the turn that takes loss)")
            }
            guard let template = tokenizer.chatTemplate else {
                throw fail("\"messages\" records need the model's chat template, and none was given")
            }
            let prompt = try template(Array(messages.dropLast()), true)
            let full = try template(messages, false)
            guard full.hasPrefix(prompt) else {
                throw fail("the chat template renders the conversation without the prompt as its prefix; cannot mask the prompt")
            }
            return SFTExample(source: prompt, target: String(full.dropFirst(prompt.count)))
        }
        if let prompt = try string("prompt") {
            guard let completion = try string("completion") else { throw fail("a \"prompt\" record needs a \"completion\" string") }
            return SFTExample(source: prompt, target: completion + tokenizer.eosText)
        }
        if let text = try string("text") {
            return SFTExample(source: "", target: text + tokenizer.eosText)
        }
        throw fail("unknown record: expected keys instruction/input/output, prompt/completion, messages, or text; found "
            + object.keys.sorted().joined(separator: ", "))
    }
}
