import Foundation
import FuRAFormats
@testable import FuRAModels
import FuRATensor
import FuRATrain
import Testing

/// `--precision llama-cpp`: ggml's activation rounding, the block kernels against a plain f64 reference, the
/// element-wise steps against their formulas, and the whole model against llama.cpp's own logits
/// (Tests/Fixtures/llama_cpp_greedy.json, from scripts/fixtures/llama_cpp_greedy.sh).
@Suite struct LlamaCppArithmeticTests {
    @Test func q8_0RoundsHalvesToEvenAtScale127OverMax() {
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127; x[1] = 2.5; x[2] = 3.5; x[3] = -2.5; x[4] = -0.4
        let a = GGMLActivationRow(x, count: 32, type: .q8_0)
        #expect(Array(a.codes[0..<5]) == [127, 2, 4, -2, 0])
        #expect(a.scales == [1])
        let q81 = GGMLActivationRow(x, count: 32, type: .q8_1)
        #expect(q81.sums == [Float(Float16(Float(127 + 2 + 4 - 2)))])
        #expect(GGMLActivationRow([Float](repeating: 0, count: 32), count: 32, type: .q8_0).codes.allSatisfy { $0 == 0 })
    }

    /// iscale = −127 / m for the element m of largest magnitude, so m itself becomes −127 whatever its sign.
    @Test(arguments: [Float(-2), 2])
    func q8_KMapsTheLargestMagnitudeToMinus127(largest: Float) {
        var x = (0..<256).map { Float($0 % 7) / 10 }
        x[40] = largest
        let a = GGMLActivationRow(x, count: 256, type: .q8_K)
        #expect(a.codes[40] == -127)
        #expect(a.scales[0] == 1 / (-127 / largest))
        #expect(a.codes[1] == Int8((Float(0.1) * (-127 / largest)).rounded(.toNearestOrEven)))
        #expect(a.groupSums[2] == (32..<48).reduce(Int32(0)) { $0 + Int32(a.codes[$1]) })
    }

    /// Random blocks of every kernel's type: the llama.cpp-order products equal f64 sums of the dequantized weights
    /// times the dequantized activation codes, for 1, 3 and 5 rows of x (all kernel variants).
    @Test(arguments: [(GGMLType.f16, 8), (.q8_0, 8), (.q4_0, 8), (.q4_0, 6), (.q4_1, 8), (.q4_K, 8)])
    func blockProductsMatchAPlainReference(type: GGMLType, rows: Int) throws {
        let columns = 512
        var rng = RNG(seed: 5)
        let rowBytes = type.byteCount(elements: columns)!
        var raw = [UInt8](repeating: 0, count: rows * rowBytes)
        for i in raw.indices { raw[i] = UInt8(truncatingIfNeeded: Int(rng.normal() * 1000)) }
        // Sane f16 scales: small positive d (and m/dmin) in every block.
        let (per, bytes) = type.blockGeometry
        func setHalf(_ o: Int, _ v: Float) { let b = Float16(v).bitPattern; raw[o] = UInt8(b & 0xFF); raw[o + 1] = UInt8(b >> 8) }
        if type == .f16 {
            for k in 0..<(rows * columns) { setHalf(2 * k, rng.normal()) }
        } else {
            for b in 0..<(rows * columns / per) {
                setHalf(b * bytes, 0.01 + abs(rng.normal()) * 0.01)
                if type == .q4_1 || type == .q4_K { setHalf(b * bytes + 2, abs(rng.normal()) * 0.01) }
            }
        }
        let matrix = try raw.withUnsafeBytes { p in
            try GGMLBlockMatrix(columns: columns, parts: [(type, rows, { p.baseAddress! + $0 * rowBytes })])
        }
        let weights = try raw.withUnsafeBytes { try GGMLDequantize.dequantizeReference($0, type: type, count: rows * columns) }
        for n in [1, 3, 5] {
            let x = (0..<(n * columns)).map { _ in rng.normal() }
            let y = try matrix.multiply(Tensor(shape: [n, columns], data: x))
            for r in 0..<n {
                let a = x.withUnsafeBufferPointer { GGMLActivationRow($0.baseAddress! + r * columns, count: columns, type: type.llamaCppActivationType!) }
                let values: [Double] = (0..<columns).map { k in
                    switch a.type {
                    case .f16: return Double(a.values[k])
                    case .q8_0, .q8_1: return Double(a.codes[k]) * Double(a.scales[k / 32])
                    case .q8_K: return Double(a.codes[k]) * Double(a.scales[k / 256])
                    }
                }
                for o in 0..<rows {
                    // (q4_1's offset term uses q8_1's f16-rounded block sums: within the tolerance.)
                    var expected = 0.0
                    for k in 0..<columns { expected += Double(weights[o * columns + k]) * values[k] }
                    let got = Double(y.storage[r * rows + o])
                    #expect(abs(got - expected) <= 2e-3 * max(1, abs(expected)), "\(type) n=\(n) row \(o): \(got) vs \(expected)")
                }
            }
        }
    }

    @Test func vectorExpfIsWithinTwoUlpsOfLibm() {
        var x: Float = -87
        while x < 88 {
            let (mine, libm) = (GGMLElementwise.expf(x), Foundation.expf(x))
            #expect(abs(mine - libm) <= 2 * libm.ulp, "expf(\(x)): \(mine) vs \(libm)")
            x += 0.37
        }
        #expect(GGMLElementwise.expf(-200) == 0)
        #expect(GGMLElementwise.expf(200) == .infinity)
    }

    @Test func normRopeAndSwiGLUFollowTheirFormulas() {
        let x: [Float] = [0.5, -1.25, 2, 0.125], w: [Float] = [1, 2, 0.5, -1]
        var y = [Float](repeating: 0, count: 4)
        GGMLElementwise.rmsNorm(x, rows: 1, weight: w, epsilon: 1e-5, into: &y)
        let scale = 1 / ((x.map { $0 * $0 }.reduce(0, +) / 4) + 1e-5).squareRoot()
        for i in 0..<4 { #expect(abs(y[i] - x[i] * scale * w[i]) <= 2 * abs(y[i]).ulp) }
        let (c, s) = GGMLElementwise.ropeTables(positions: 3, headDim: 8, theta: 10000)
        #expect(c[0..<4].allSatisfy { $0 == 1 } && s[0..<4].allSatisfy { $0 == 0 })
        #expect(abs(c[2 * 4 + 1] - cos(2 * pow(10000, -0.25))) < 1e-6)
        let (r0, r1) = GGMLElementwise.rotate(3, 4, cos: 0.6, sin: 0.8)
        #expect(abs(r0 - (3 * 0.6 - 4 * 0.8)) < 1e-6 && abs(r1 - (3 * 0.8 + 4 * 0.6)) < 1e-6)
        var gate: [Float] = [-3, 0, 2], up: [Float] = [2, 5, -1]
        GGMLElementwise.swiglu(&gate, up: up, count: 3)
        for (i, g) in [Float(-3), 0, 2].enumerated() { #expect(abs(gate[i] - g / (1 + exp(-g)) * up[i]) <= 1e-6) }
    }
}

/// The test model and its f16, q4_0 and q4_K exports in llama.cpp's arithmetic: every projection from the file's
/// blocks, and the logits llama.cpp itself printed for the same prompt, step for step, to the last bit — all five
/// kernels (q4_1 vec_dot, q8_0 output, f16 tinyBLAS and vec_dot, repacked q4_0 and q4_K in 1- and 4-row forms),
/// and on a 91-token prompt the tiled attention llama.cpp uses for batches of 64 rows or more.
@Suite(.enabled(if: TestModel.available, "needs cache/SmolLM2-135M-Instruct.Q4_1.gguf or FURA_TEST_MODEL"))
struct LlamaCppGreedyTests {
    struct Fixture: Decodable {
        struct Run: Decodable {
            var model: String
            var prompt_ids: [Int]
            var top_logits: [[[Double]]]
        }
        var runs: [Run]
    }

    @Test(arguments: ["base", "f16", "q4_0", "q4_K", "base-long"])
    func logitsEqualLlamaCppsOwn(model name: String) throws {
        let url = TestModel.packageRoot.appendingPathComponent("Tests/Fixtures/llama_cpp_greedy.json")
        let run = try #require(try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url)).runs.first { $0.model == name })
        var loaded = try TestModel.smolLM2()
        let root = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: root) }
        if let type = GGUFExport.matrixTypes.first(where: { "\($0)" == name }) {   // as `fura export --type` writes it
            try GGUFExport.write(loaded.model, tokenizer: nil, name: "SmolLM2", type: type, to: root + "/export.gguf")
            loaded = try ModelLoader.load(path: root + "/export.gguf")
        }
        let engine = try GenerationModel(model: loaded.model, precision: .llamaCpp, gguf: loaded.gguf)
        #expect(engine.weightSummary.contains("121 matrices from the file's blocks"), "\(engine.weightSummary)")
        #expect(!engine.weightSummary.contains("in f32"))
        let cache = try engine.makeCache(slots: 1, capacity: run.prompt_ids.count + 8)
        var input = run.prompt_ids
        for step in run.top_logits {
            let logits = try engine.step(cache: cache, slots: [0], tokens: [input]).storage
            for pair in step {
                // greedy_top printed %.9g: enough digits to give back the float.
                #expect(logits[Int(pair[0])] == Float(pair[1]), "\(name), token \(Int(pair[0])): \(logits[Int(pair[0])]) vs llama.cpp \(pair[1])")
            }
            input = [Int(step[0][0])]
        }
    }

    @Test func refusesLayersItDoesNotReproduce() throws {
        let model = try CausalLM.random(config: GenerationModelTests.config(bias: true), seed: 1)
        #expect(throws: GenerationError.self) { try GenerationModel(model: model, precision: .llamaCpp) }
    }
}
