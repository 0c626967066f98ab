import Foundation
import FuRATrain
import Testing

@Suite struct TrainRunRecorderTests {
    static func lines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func metricsAndCurveAreWritten() throws {
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try BigramLM(vocabulary: 128, width: 8, seed: 5)
        let data = try TrainFixture.dataset(batchSize: 4, accumulation: 1)
        let recorder = try RunRecorder(directory: directory, resumedAtStep: nil)
        let trainer = Trainer(model: model, source: data, objective: SFTObjective(), options: TrainFixture.options(steps: 6),
                              validation: try data.validationBatches()) { try? recorder.record($0) }
        try trainer.run()
        try recorder.writeCurve()
        let lines = try Self.lines(recorder.metricsURL)
        let steps = lines.filter { $0["loss"] != nil }, evaluations = lines.filter { $0["val_loss"] != nil }
        #expect(steps.count == 6 && evaluations.count == 3)
        #expect(Set(steps[0].keys) == ["step", "loss", "learning_rate", "tokens", "tokens_per_second", "peak_rss_bytes", "grad_norm"])
        #expect(steps.map { $0["step"] as? Int } == [1, 2, 3, 4, 5, 6])
        let svg = try String(contentsOf: recorder.curveURL, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("<polyline") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<circle").count == 4)
        // A resume at step 4 keeps steps ≤ 4 and drops the rest.
        let resumed = try RunRecorder(directory: directory, resumedAtStep: 4)
        try resumed.writeCurve()
        let kept = try Self.lines(resumed.metricsURL)
        #expect(kept.compactMap { $0["step"] as? Int }.allSatisfy { $0 <= 4 })
        #expect(kept.filter { $0["loss"] != nil }.count == 4)
    }

    @Test func curveScalesPointsIntoThePlot() {
        let svg = LossCurveSVG.render(train: [(1, 4.0), (2, 2.0), (3, .nan), (4, 1.0)], validation: [], width: 200, height: 100)
        // x from 64 to 184, y from 28 (loss 4) to 56 (loss 1).
        #expect(svg.contains("points=\"64.0,28.0 104.0,46.7 184.0,56.0\""))
    }
}
