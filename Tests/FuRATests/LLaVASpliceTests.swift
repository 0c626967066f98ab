import Foundation
import FuRAFormats
import FuRAModels
import FuRANN
import FuRATensor
import FuRAVision
import Testing

/// LLaVA's image merge against transformers (scripts/fixtures/llava_splice.py): features through transformers'
/// LlavaMultiModalProjector replace the image positions' embeddings of a tiny Llama; the per-token log-probs of the
/// text after the image must match fura's MultimodalLM.
@Suite struct LLaVASpliceTests {
    struct Fixture: Decodable {
        struct Record: Decodable { var sequence: Int; var position: Int; var label: Int; var logprob: Double }
        var vision_width: Int
        var image_rows: Int
        var image_start: Int
        var sequences: [[Int]]
        var lengths: [Int]
        var features: [Float]
        var projector: [String: [Float]]
        var records: [Record]
    }

    @Test func logProbabilitiesMatchTransformers() throws {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: FormatFixtures.directory.appendingPathComponent("llava_splice.json")))
        let language = try ModelLoader.load(path: ModelLoaderTests.tinyDirectory("llama3_scaled").path).model
        let (v, c, rows) = (fixture.vision_width, language.config.hiddenSize, fixture.image_rows)
        func linear(_ name: String, _ outputs: Int, _ inputs: Int) throws -> DenseLinear {
            try DenseLinear(weight: Tensor(shape: [outputs, inputs], data: fixture.projector[name + ".weight"] ?? []),
                            bias: Tensor(shape: [outputs], data: fixture.projector[name + ".bias"] ?? []))
        }
        let projector = try Projector(kind: .mlp2xGELU, layers: [linear("linear_1", c, v), linear("linear_2", c, c)])
        let model = try MultimodalLM(language: language, projector: projector) { image in
            try Tensor(shape: [rows, v], data: Array(fixture.features[(image * rows * v)..<((image + 1) * rows * v)]))
        }
        let time = fixture.sequences[0].count
        var labels = [[Int]](repeating: [Int](repeating: TokenBatch.ignoreIndex, count: time), count: fixture.sequences.count)
        for r in fixture.records { labels[r.sequence][r.position] = r.label }
        let batch = TokenBatch(ids: fixture.sequences, labels: labels, lengths: fixture.lengths,
                               spliced: (0..<fixture.sequences.count).map { SplicedRows(sequence: $0, position: fixture.image_start, count: rows, source: $0) })
        let got = try model.labelLogProbabilities(batch)
        #expect(fixture.records.count == 6)
        let worst = fixture.records.map { abs(Double(got[$0.sequence][$0.position]) - $0.logprob) }.max() ?? .infinity
        #expect(worst < 1e-4, "max |Δ log p| = \(worst)")
    }
}
