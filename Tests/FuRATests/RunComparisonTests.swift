import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import FuRAEval
import FuRAFormats
import FuRATrain
import Testing

/// `fura compare`: run directories read back, and reports that hold every run and parse.
@Suite struct RunComparisonTests {
    static func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("compare-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func report(_ accuracies: [String: Double], model: String = "m.gguf", adapter: String? = nil) -> EvalReport {
        let tasks = accuracies.keys.sorted().map { name in
            let correct = Int((accuracies[name]! * 10).rounded())
            return TaskResult(task: EvalTask(name: name)!, protocol: .loglikelihood,
                              records: (0..<10).map { EvalRecord(task: name, index: $0, prompt: "", output: "", extracted: "", gold: "",
                                                                 correct: $0 < correct, scores: nil, correctNorm: $0 < correct) })
        }
        return EvalReport(model: model, adapter: adapter, protocol: .loglikelihood, limit: 10, seconds: 1, summary: EvalSummary(tasks: tasks))
    }

    /// A finished SFT run directory with two steps of 100 tokens at 50 and 100 tokens/s and one validation point.
    static func writeRun(_ directory: URL, method: String, eval: EvalReport?) throws {
        let config: [String: Any] = ["method": method, "lr": 0.0002, "batch_size": 4, "grad_accum": 2, "lora_rank": method == "lora" ? 8 : NSNull(),
                                     "use_rslora": false, "output": directory.path]
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("config.json"))
        let lines = [#"{"step":1,"loss":2.5,"tokens":100,"tokens_per_second":50,"peak_rss_bytes":1000}"#,
                     #"{"step":2,"loss":1.5,"tokens":100,"tokens_per_second":100,"peak_rss_bytes":3000}"#,
                     #"{"step":2,"val_loss":1.75}"#]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: directory.appendingPathComponent("metrics.jsonl"))
        try RunSummary(kind: "sft", method: method, baseModel: "/m.gguf", trainableParameters: 1234, steps: 2, wallSeconds: 65,
                       peakRSSBytes: 2000).write(into: directory.path)
        try eval?.write(into: directory.path)
    }

    @Test func runDirectoriesAreReadBack() throws {
        let run = try Self.temporaryDirectory("lora")
        defer { try? FileManager.default.removeItem(at: run) }
        try Self.writeRun(run, method: "lora", eval: Self.report(["boolq": 0.7, "piqa": 0.4]))
        let compared = try ComparedRun(directory: run.path)
        #expect(compared.method == "lora")
        #expect(compared.settings.map(\.key).contains("lora_rank"))
        #expect(compared.settings.first { $0.key == "lora_rank" }?.value == "8")
        #expect(compared.settings.first { $0.key == "use_rslora" }?.value == "false")
        #expect(compared.settings.first { $0.key == "lr" }?.value == "0.0002")
        #expect(!compared.settings.map(\.key).contains("output"))
        #expect(compared.curve.map(\.step) == [1, 2] && compared.validation.map(\.loss) == [1.75])
        #expect(abs(compared.tokensPerSecond! - 200.0 / 3.0) < 1e-9)   // 200 tokens over 2 s + 1 s
        #expect(compared.peakRSSBytes == 3000)
        #expect(compared.summary?.trainableParameters == 1234)
        #expect(abs(compared.eval!.average - 0.55) < 1e-12)
    }

    @Test func reportsHoldEveryRunAndTheHTMLIsWellFormed() throws {
        let root = try Self.temporaryDirectory("root")
        defer { try? FileManager.default.removeItem(at: root) }
        let base = root.appendingPathComponent("base"), fura = root.appendingPathComponent("fura"), lora = root.appendingPathComponent("lora & co")
        for url in [base, fura, lora] { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        try Self.report(["boolq": 0.5, "piqa": 0.3]).write(into: base.path)
        try Self.writeRun(fura, method: "fura", eval: Self.report(["boolq": 0.8, "piqa": 0.4], adapter: fura.path))
        try Self.writeRun(lora, method: "lora", eval: nil)
        let comparison = try RunComparison(runs: [base, fura, lora].map { try ComparedRun(directory: $0.path) })
        #expect(comparison.tasks == ["boolq", "piqa"])

        let markdown = comparison.markdown()
        #expect(markdown.contains("| base | base |"))
        #expect(markdown.contains("| fura | 80.0 | 40.0 | 60.0 | +20.0 |"))
        #expect(markdown.contains("| lora & co | — | — | — | — |"))
        #expect(markdown.contains("1,234"))
        // By suite: rows are suites, columns the runs, then each later run's difference to the first.
        #expect(markdown.contains("| suite | n | base | fura | lora & co | Δ fura − base | Δ lora & co − base |"))
        #expect(markdown.contains("| BoolQ | 10 | 50.0 | 80.0 | — | +30.0 | — |"))
        #expect(markdown.contains("| Average |  | 40.0 | 60.0 | — | +20.0 | — |"))

        let html = comparison.html()
        let parser = XMLParser(data: Data(html.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        #expect(parser.parse(), "the report must be well-formed XHTML: \(parser.parserError.map { "\($0)" } ?? "")")
        #expect(counter.count["svg"] == 2)                      // the curves and the averages
        #expect(counter.count["polyline"] == 2)                 // one curve per trained run
        #expect(counter.count["rect"] == 1 + 2)                 // the curve's background, one bar per evaluated run
        #expect(counter.count["script"] == nil)
        for name in ["base", "fura", "lora &amp; co"] { #expect(html.contains(">\(name)<")) }
    }

    @Test func directoriesThatAreNotRunsAreRefusedWithOneLine() throws {
        let empty = try Self.temporaryDirectory("empty")
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: ReportError.self) { try ComparedRun(directory: empty.path) }
        #expect(throws: ReportError.self) { try ComparedRun(directory: empty.appendingPathComponent("missing").path) }
        #expect(throws: ReportError.self) { try RunComparison(runs: []) }
        try Data("{ not json".utf8).write(to: empty.appendingPathComponent("config.json"))
        do { _ = try ComparedRun(directory: empty.path); Issue.record("a broken config.json must be refused") } catch let error as ReportError {
            #expect(error.description.contains("config.json") && !error.description.contains("\n"))
        }
    }

    @Test func severalSeriesGetALegendAndDistinctColours() {
        let series = (0..<3).map { LossCurveSVG.Series(name: "run \($0)", line: [(1, 2.0), (2, 1.0 + Double($0))], dots: [],
                                                       color: LossCurveSVG.palette[$0]) }
        let svg = LossCurveSVG.render(series: series, title: "t < u", axisLabel: "loss")
        for i in 0..<3 { #expect(svg.contains(">run \(i)<") && svg.contains("stroke=\"\(LossCurveSVG.palette[i])\"")) }
        #expect(svg.contains("t &lt; u"))
    }
}

/// Counts the elements of a parsed document.
final class ElementCounter: NSObject, XMLParserDelegate {
    var count: [String: Int] = [:]
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        count[name, default: 0] += 1
    }
}

/// `fura make-data --mix` and the eval report `fura compare` reads.
@Suite struct DataMixAndEvalReportTests {
    static func file(_ records: [[String: String]]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mix-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: records).write(to: url)
        return url.path
    }

    @Test func mixesTakeEqualSharesDeterministicallyAndSpreadWhatSmallFilesLack() throws {
        let a = try Self.file((0..<50).map { ["instruction": "a\($0)", "output": "x"] })
        let b = try Self.file((0..<50).map { ["instruction": "b\($0)", "output": "x"] })
        let small = try Self.file((0..<3).map { ["instruction": "s\($0)", "output": "x"] })
        func prefixes(_ data: Data) throws -> [Character] {
            try (JSONSerialization.jsonObject(with: data) as! [[String: String]]).map { $0["instruction"]!.first! }
        }
        let mixed = try SFTDataMix.mix(files: [a, b, small], count: 21, seed: 7)
        let letters = try prefixes(mixed)
        #expect(letters.count == 21)
        #expect(letters.filter { $0 == "s" }.count == 3)
        #expect(letters.filter { $0 == "a" }.count == 9 && letters.filter { $0 == "b" }.count == 9)
        let names = try (JSONSerialization.jsonObject(with: mixed) as! [[String: String]]).map { $0["instruction"]! }
        #expect(Set(names).count == 21)                                            // without replacement
        #expect(try SFTDataMix.mix(files: [a, b, small], count: 21, seed: 7) == mixed)
        #expect(try SFTDataMix.mix(files: [a, b, small], count: 21, seed: 8) != mixed)
        #expect(letters.prefix(6) != ["a", "a", "a", "a", "a", "a"] || letters.suffix(6) != ["s", "s", "s", "b", "b", "b"])
        #expect(throws: TrainingError.self) { try SFTDataMix.mix(files: [a, small], count: 54, seed: 1) }
        #expect(throws: TrainingError.self) { try SFTDataMix.mix(files: [a + ".missing"], count: 1, seed: 1) }
    }

    @Test func theReportRoundTripsAndPrintsAnLmEvalTable() throws {
        let report = RunComparisonTests.report(["boolq": 0.7, "piqa": 0.4], adapter: "/runs/fura/adapter")
        let directory = try RunComparisonTests.temporaryDirectory("eval")
        defer { try? FileManager.default.removeItem(at: directory) }
        try report.write(into: directory.path)
        #expect(try EvalReport.read(from: directory.path) == report)
        #expect(report.header == "fura eval: model m.gguf, adapter /runs/fura/adapter, protocol loglikelihood, first 10 of each task")
        let table = report.lmEvalTable.split(separator: "\n").map(String.init)
        #expect(table[0] == "| Task    |  n | Metric   |  Value |   | Stderr |")
        #expect(table[1] == "|---------|---:|----------|-------:|---|-------:|")
        #expect(table[2] == "| boolq   | 10 | acc      | 0.7000 | ± | 0.1528 |")   // √(0.7·0.3/9)
        #expect(table[3] == "|         | 10 | acc_norm | 0.7000 | ± | 0.1528 |")
        #expect(table.last == "|         |    | acc_norm | 0.5500 |   |        |")
        #expect(EvalReport.standardError(0.5, n: 1) == 0)
    }
}
