import Foundation
import Testing
import FuRAFormats

@Suite struct ChatTemplateTests {
    @Test func rendersLikeTransformersForEveryKnownTemplate() throws {
        let fixture = try FormatFixtures.json("chat_templates.json")
        let templates = try #require(fixture["templates"] as? [String: String])
        let bos = try #require(fixture["bos"] as? [String: String])
        let cases = try #require(fixture["cases"] as? [[String: Any]])
        #expect(cases.count == 48)
        for entry in cases {
            let name = try #require(entry["template"] as? String)
            let template = try #require(ChatTemplate.detect(templateString: templates[name], bosToken: bos[name]), "\(name) not recognized")
            let messages = try #require(entry["messages"] as? [[String: String]]).map { ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "") }
            let addGenerationPrompt = try #require(entry["add_generation_prompt"] as? Bool)
            let expected = try #require(entry["rendered"] as? String)
            #expect(template.render(messages, addGenerationPrompt: addGenerationPrompt) == expected, "\(name) \(messages.count) messages")
        }
    }

    @Test func detectsFormatsAndDefaultSystemMessages() throws {
        let fixture = try FormatFixtures.json("chat_templates.json")
        let templates = try #require(fixture["templates"] as? [String: String])
        #expect(ChatTemplate.detect(templateString: templates["smollm2"])?.defaultSystemMessage == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        #expect(ChatTemplate.detect(templateString: templates["qwen2"])?.defaultSystemMessage == "You are a helpful assistant.")
        #expect(ChatTemplate.detect(templateString: templates["qwen2.5"])?.defaultSystemMessage == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        #expect(ChatTemplate.detect(templateString: templates["llama3"])?.format == .llama3)
        #expect(ChatTemplate.detect(templateString: templates["llama3.1"])?.format == .llama31)
        #expect(ChatTemplate.detect(templateString: templates["gemma3"])?.format == .gemma)
        #expect(ChatTemplate.detect(templateString: templates["llama3.1"])?.dateString == "26 Jul 2024")
        let llama32 = "{%- if strftime_now is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") %}{%- endif %}<|start_header_id|>Cutting Knowledge Date"
        #expect(ChatTemplate.detect(templateString: llama32)?.dateString == ChatTemplate.todayString())
        #expect(ChatTemplate.todayString().count == 11)
        #expect(ChatTemplate.detect(templateString: "{{ messages }}") == nil)
        #expect(ChatTemplate.detect(templateString: nil) == nil)
    }

    @Test(.enabled(if: FormatFixtures.hasSmolLM2)) func smolLM2TemplateComesFromTheGGUF() throws {
        let file = try GGUFFile(path: FormatFixtures.smolLM2Path)
        let tokenizer = try Tokenizer(ggufMetadata: file.metadata)
        let template = try #require(tokenizer.chatTemplate)
        #expect(template.format == .chatML)
        let prompt = template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(prompt == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let ids = tokenizer.encode(prompt)
        #expect(ids.first == 1 && ids.last == 198)
        #expect(ids.filter { $0 == 1 }.count == 3 && ids.filter { $0 == 2 }.count == 2)
    }
}
