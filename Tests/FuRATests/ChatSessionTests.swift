import Foundation
import FuRAFormats
import FuRAModels
import Testing

/// `ChatSession` (what `fura chat` drives) on SmolLM2: the first turn is transformers' greedy continuation of the chat
/// prompt, later turns carry the history, `/reset` forgets it, a failed turn leaves it unchanged; and the `fura chat`
/// binary through a pseudo-terminal (`script`).
@Suite(.enabled(if: TestModel.available, "needs cache/SmolLM2-135M-Instruct.Q4_1.gguf or FURA_TEST_MODEL"))
struct ChatSessionTests {
    func session(maxTokens: Int = 30) throws -> (ChatSession, GenerationParityTests.Fixture) {
        let fixture = try GenerationParityTests.fixture()
        let loaded = try TestModel.smolLM2()
        let tokenizer = try #require(loaded.tokenizer)
        let options = GenerationOptions(maxNewTokens: maxTokens, eosTokenIds: Set(fixture.eos_token_ids))
        return (try ChatSession(model: try GenerationModel(model: loaded.model), tokenizer: tokenizer, system: nil, options: options), fixture)
    }

    @Test func firstTurnIsTheGreedyContinuationAndTurnsKeepTheHistory() throws {
        let (chat, fixture) = try session()
        let first = fixture.prompts[0]
        var streamed = ""
        let outcome = try chat.handle(first.message, emit: { streamed += $0 })
        let expectedIds = first.greedy_ids.filter { !fixture.eos_token_ids.contains($0) }
        let expected = chat.tokenizer.decode(expectedIds, skipSpecial: true).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(outcome == .replied(expected))
        #expect(streamed.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
        #expect(chat.messages == [ChatMessage(role: "user", content: first.message), ChatMessage(role: "assistant", content: expected)])

        // The second turn's prompt holds the first exchange: its reply differs from a fresh one-turn chat's.
        let second = fixture.prompts[1].message
        guard case let .replied(withHistory) = try chat.handle(second, emit: { _ in }) else { Issue.record("no reply"); return }
        #expect(chat.messages.count == 4)
        #expect(chat.messages[2] == ChatMessage(role: "user", content: second))
        #expect(chat.messages[3] == ChatMessage(role: "assistant", content: withHistory))

        #expect(try chat.handle("  /reset ", emit: { _ in }) == .reset)
        #expect(chat.messages.isEmpty)
        guard case let .replied(fresh) = try chat.handle(second, emit: { _ in }) else { Issue.record("no reply"); return }
        let freshIds = fixture.prompts[1].greedy_ids.filter { !fixture.eos_token_ids.contains($0) }
        #expect(fresh == chat.tokenizer.decode(freshIds, skipSpecial: true).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try chat.handle("", emit: { _ in }) == .empty)
        #expect(try chat.handle("/help", emit: { _ in }) == .help)
        #expect(try chat.handle("/exit", emit: { _ in }) == .exit)
    }

    @Test func aFailedTurnLeavesTheConversationAsItWas() throws {
        let (chat, _) = try session()
        chat.options.maxNewTokens = 0
        #expect(throws: (any Error).self) { try chat.handle("Hello", emit: { _ in }) }
        #expect(chat.messages.isEmpty)
    }

    /// The built `fura` beside the test bundle, in a pseudo-terminal: a reply, `/reset`, `/exit`, exit status 0.
    @Test func furaChatRunsInAPseudoTerminal() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fura").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "fura is built beside the tests (\(binary))")
        let model = try #require(TestModel.smolLM2Path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "'\(binary)' chat --model '\(model)' --max-tokens 12 --threads 1", "/dev/null"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data("What is the capital of France?\n/reset\n/exit\n".utf8))
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("[fura chat: "))
        #expect(text.contains("[conversation cleared]"))
        #expect(text.components(separatedBy: ">> ").count >= 4, "three prompts shown: \(text)")
        #expect(text.contains("Paris"), "the reply streams to the terminal: \(text)")
    }
}
