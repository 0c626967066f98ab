import Foundation
import FuRAFormats
import Testing

@Suite struct YAMLSubsetTests {
    static func parse(_ text: String) throws -> [String: Any] {
        try #require(try YAMLSubset.parse(text, path: "run.yaml") as? [String: Any])
    }

    @Test func scalarsListsCommentsAndNesting() throws {
        let text = """
        ---
        # a run
        model: cache/m.gguf   # trailing comment
        lr: 2e-4
        steps: 30
        seed: -7
        ratio: .5
        resume: true
        off: False
        nothing: null
        tilde: ~
        quoted: "a # not a comment: \\"x\\" \\u00e9"
        single: 'it''s'
        url: http://x.org/a#b
        betas: [0.9, 0.95]
        names: [q_proj, "k,proj", 'v']
        empty: []
        map: {}
        targets:
          - q_proj
          - 3
        flat:
        - a
        - b
        loss:
          kind: grpo
          beta: 0.04
        """
        let v = try Self.parse(text)
        #expect(v["model"] as? String == "cache/m.gguf")
        #expect(v["lr"] as? Double == 2e-4 && v["steps"] as? Int == 30 && v["seed"] as? Int == -7 && v["ratio"] as? Double == 0.5)
        #expect(v["resume"] as? Bool == true && v["off"] as? Bool == false)
        #expect(v["nothing"] is NSNull && v["tilde"] is NSNull)
        #expect(v["quoted"] as? String == "a # not a comment: \"x\" é")
        #expect(v["single"] as? String == "it's")
        #expect(v["url"] as? String == "http://x.org/a#b")
        #expect(v["betas"] as? [Double] == [0.9, 0.95])
        #expect(v["names"] as? [String] == ["q_proj", "k,proj", "v"])
        #expect((v["empty"] as? [Any])?.isEmpty == true && (v["map"] as? [String: Any])?.isEmpty == true)
        let targets = try #require(v["targets"] as? [Any])
        #expect(targets.count == 2 && targets[0] as? String == "q_proj" && targets[1] as? Int == 3)
        #expect(v["flat"] as? [String] == ["a", "b"])
        let loss = try #require(v["loss"] as? [String: Any])
        #expect(loss["kind"] as? String == "grpo" && loss["beta"] as? Double == 0.04)
        #expect(v.count == 19)
    }

    @Test func emptyDocumentIsAnEmptyMapping() throws {
        #expect(try Self.parse("").isEmpty)
        #expect(try Self.parse("# only a comment\n\n").isEmpty)
    }

    @Test func keyLinesAreReported() throws {
        let (_, lines) = try YAMLSubset.parseDocument("a: 1\n\n# c\nb:\n  c: 2\nd: [1]\n", path: "x.yaml")
        #expect(lines == ["a": 1, "b": 4, "d": 6])
    }

    @Test(arguments: [
        ("a: 1\na: 2\n", 2, "duplicate key"),
        ("a: 1\n  b: 2\n", 2, "indentation"),
        ("a:\n\t- x\n", 2, "tab"),
        ("a: [1, 2\n", 1, "]"),
        ("a: \"open\n", 1, "not closed"),
        ("a: &anchor 3\n", 1, "not supported"),
        ("a: {b: 1}\n", 1, "inline mappings"),
        ("just text\n", 1, "key: value"),
        ("a:\n  - b: 1\n", 2, "lists of mappings"),
        ("a: 'x' y\n", 1, "after the quoted string"),
        ("- 1\n- 2\nb: 3\n", 3, ""),
    ])
    func errorsNameTheLine(text: String, line: Int, fragment: String) {
        do {
            _ = try YAMLSubset.parse(text, path: "bad.yaml")
            Issue.record("expected an error for \(text.debugDescription)")
        } catch let error as YAMLError {
            #expect(error.path == "bad.yaml" && error.line == line, "\(error)")
            #expect(fragment.isEmpty || error.reason.contains(fragment), "\(error)")
            #expect(error.description.hasPrefix("bad.yaml:\(line): "))
        } catch {
            Issue.record("untyped error \(error)")
        }
    }
}

@Suite struct ConfigFileTests {
    @Test func yamlAndJSONGiveTheSameValues() throws {
        let yaml = try ConfigFile(data: Data("steps: 3\nbetas: [0.9, 0.99]\nname: x\nclip: null\n".utf8), path: "a.yaml")
        let json = try ConfigFile(data: Data(#"{"steps": 3, "betas": [0.9, 0.99], "name": "x", "clip": null}"#.utf8), path: "a.json")
        for file in [yaml, json] {
            #expect(try file.int("steps") == 3 && file.list("betas") == "0.9,0.99" && file.string("name") == "x")
            #expect(try file.double("clip") == nil && file.double("clip", nullAs: 0) == 0 && file.int("missing") == nil)
        }
        #expect(yaml.location(of: "name") == "a.yaml:3" && json.location(of: "name") == "a.json")
    }

    @Test func wrongTypesAndUnknownKeysNameFileAndLine() throws {
        let file = try ConfigFile(data: Data("steps: many\nflag: 1\nseed: -1\nmystery: 2\n".utf8), path: "r.yaml")
        #expect(throws: ConfigFileError.self) { try file.int("steps") }
        do { _ = try file.int("steps"); Issue.record("expected an error") } catch {
            #expect("\(error)".hasPrefix("r.yaml:1: steps: expected an integer"))
        }
        #expect(throws: ConfigFileError.self) { try file.bool("flag") }
        #expect(throws: ConfigFileError.self) { try file.uint64("seed") }
        do { try file.checkKeys(["steps", "flag", "seed"]); Issue.record("expected an error") } catch {
            #expect("\(error)".hasPrefix("r.yaml:4: unknown key \"mystery\""))
        }
        // JSON booleans are not numbers and numbers are not booleans.
        let json = try ConfigFile(data: Data(#"{"a": true, "b": 1}"#.utf8), path: "j.json")
        #expect(try json.bool("a") == true)
        #expect(throws: ConfigFileError.self) { try json.int("a") }
        #expect(throws: ConfigFileError.self) { try json.bool("b") }
        #expect(throws: ConfigFileError.self) { try ConfigFile(data: Data("- a\n- b\n".utf8), path: "l.yaml") }
        #expect(throws: ConfigFileError.self) { try ConfigFile(data: Data("x: .inf\n".utf8), path: "i.yaml") }
        #expect(throws: ConfigFileError.self) { try ConfigFile(path: "/nonexistent/run.yaml") }
    }
}
