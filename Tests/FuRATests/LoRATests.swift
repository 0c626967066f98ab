import Foundation
import FuRATestSupport
import Testing
@testable import FuRA
@testable import FuRANN
@testable import FuRATensor

/// Finite-difference checks of a layer's backward, shared by the adapter tests.
enum GradientCheck {
    /// loss = Σ y ⊙ probe, computed in `Double`; `prepare` runs before every forward (to replay a dropout mask).
    static func loss(_ layer: any LinearLayer, _ x: Tensor, _ probe: Tensor, prepare: () -> Void) throws -> Double {
        prepare()
        let y = try layer.forward(x, keepForBackward: true)
        return zip(y.storage, probe.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Compares dX and every trainable parameter's gradient with central differences; returns the worst
    /// relative difference per name ("x" for the input).
    static func run(_ layer: any LinearLayer, x: Tensor, probe: Tensor, step: Float = 1e-2,
                    prepare: @escaping () -> Void = {}) throws -> [String: Double] {
        for (_, p) in layer.parameters { p.zeroGradient() }
        prepare()
        _ = try layer.forward(x, keepForBackward: true)
        let dX = try layer.backward(probe)
        var worst: [String: Double] = [:]
        let xi = TestSupport.sampleIndices(count: x.count, maximum: 16)
        let nx = try TestSupport.numericGradient(of: { try loss(layer, $0, probe, prepare: prepare) }, at: x, indices: xi, step: step)
        worst["x"] = TestSupport.maxRelativeDifference(xi.map { Double(dX.storage[$0]) }, nx)
        for (name, p) in layer.parameters where p.trainable {
            let analytic = p.gradient!
            let saved = p.value
            let idx = TestSupport.sampleIndices(count: saved.count, maximum: 16)
            let numeric = try TestSupport.numericGradient(of: { t in
                p.value = t
                defer { p.value = saved }
                return try loss(layer, x, probe, prepare: prepare)
            }, at: saved, indices: idx, step: step)
            worst[name] = TestSupport.maxRelativeDifference(idx.map { Double(analytic.storage[$0]) }, numeric)
        }
        return worst
    }
}

/// Layer sizes of the LoRA tests: O outputs, I inputs, rank r.
private let o = 12, i = 20, r = 4

@Suite struct LoRATests {
    /// A LoRA layer with random non-zero A and B.
    static func layer(format: FrozenWeightFormat, dropout: Float = 0, rsLoRA: Bool = false) throws -> LoRALinear {
        let w = TestSupport.random([o, i], seed: 1, std: 0.3)
        let options = LoRAOptions(rank: r, alpha: 8, dropout: dropout, useRSLoRA: rsLoRA)
        let layer = try LoRALinear(base: FrozenWeight(w, format: format), bias: TestSupport.random([o], seed: 2),
                                   options: options, seed: 3)
        layer.loraB.value = TestSupport.random([o, r], seed: 4, std: 0.5)
        layer.loraA.value = TestSupport.random([r, i], seed: 5, std: 0.5)
        return layer
    }

    @Test(arguments: FrozenWeightFormat.allCases)
    func freshAdapterLeavesTheOutputUnchanged(format: FrozenWeightFormat) throws {
        let w = TestSupport.random([o, i], seed: 1)
        let b = TestSupport.random([o], seed: 2)
        let base = try FrozenLinear(weight: w, bias: b, format: format)
        let lora = try LoRALinear(wrapping: try DenseLinear(weight: w, bias: b), format: format,
                                  options: LoRAOptions(rank: 8, alpha: 16, dropout: 0.1), seed: 7)
        let x = TestSupport.random([3, 5, i], seed: 6)
        #expect(try lora.forward(x, keepForBackward: true) == base.forward(x, keepForBackward: false))
        #expect(lora.loraB.value == Tensor.zeros([o, 8]))
        // Kaiming-uniform(a=√5): U(−1/√I, 1/√I), and it fills the range.
        let bound = 1 / Float(i).squareRoot()
        #expect(lora.loraA.value.maxAbs <= bound)
        #expect(lora.loraA.value.maxAbs > 0.9 * bound)
        #expect(lora.parameters.map { $0.name } == ["lora_A.weight", "lora_B.weight", "bias"])
        #expect(lora.parameters.map { $0.parameter.trainable } == [true, true, false])
    }

    @Test func forwardMatchesTheFormula() throws {
        for rs in [false, true] {
            let lora = try Self.layer(format: .float32, rsLoRA: rs)
            let s: Float = rs ? 8 / 2 : 8 / 4
            #expect(lora.scaling == s)
            let x = TestSupport.random([7, i], seed: 8)
            let w = lora.base.dense()
            var expected = try Tensor.matmul(x, w, transposeB: true)
            try expected.addRowVector(lora.bias!.value)
            let ba = try Tensor.matmul(lora.loraB.value, lora.loraA.value)
            try Tensor.matmul(x, ba, transposeB: true, into: &expected, accumulate: true, alpha: s)
            #expect(try lora.forward(x, keepForBackward: false).relativeError(to: expected) < 1e-6)
        }
    }

    @Test(arguments: [FrozenWeightFormat.float32, .bfloat16, .nf4DoubleQuant])
    func backwardMatchesFiniteDifferences(format: FrozenWeightFormat) throws {
        let lora = try Self.layer(format: format)
        let x = TestSupport.random([2, 3, i], seed: 9)
        let probe = TestSupport.random([2, 3, o], seed: 10)
        let worst = try GradientCheck.run(lora, x: x, probe: probe)
        #expect(Set(worst.keys) == ["x", "lora_A.weight", "lora_B.weight"])
        for (name, d) in worst { #expect(d < 2e-3, "\(name): \(d)") }
    }

    @Test func backwardWithAFixedDropoutMaskMatchesFiniteDifferences() throws {
        let lora = try Self.layer(format: .nf4, dropout: 0.3)
        let x = TestSupport.random([6, i], seed: 11)
        let probe = TestSupport.random([6, o], seed: 12)
        let state = lora.dropoutRNG
        let worst = try GradientCheck.run(lora, x: x, probe: probe, prepare: { lora.dropoutRNG = state })
        for (name, d) in worst { #expect(d < 2e-3, "\(name): \(d)") }
        // The mask really drops: a training forward differs from an eval forward, and an eval forward is deterministic.
        lora.dropoutRNG = state
        let train = try lora.forward(x, keepForBackward: true)
        let eval1 = try lora.forward(x, keepForBackward: false), eval2 = try lora.forward(x, keepForBackward: false)
        #expect(eval1 == eval2)
        #expect(try train.relativeError(to: eval1) > 1e-3)
    }

    @Test func dropoutMaskHasTheRightRateAndScale() {
        var rng = RNG(seed: 13)
        let m = LoRAPieces.dropoutMask(count: 20_000, probability: 0.25, rng: &rng)
        let zeros = m.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / 20_000 - 0.25) < 0.015)
        #expect(m.allSatisfy { $0 == 0 || $0 == Float(1) / 0.75 })
    }

    @Test(arguments: [FrozenWeightFormat.float32, .nf4DoubleQuant])
    func materializedWeightReproducesTheAdaptedOutput(format: FrozenWeightFormat) throws {
        let lora = try Self.layer(format: format)
        // A few random "updates".
        for step in 0..<3 {
            try lora.loraA.value.add(TestSupport.random([r, i], seed: 20 + UInt64(step), std: 0.1))
            try lora.loraB.value.add(TestSupport.random([o, r], seed: 30 + UInt64(step), std: 0.1))
        }
        let x = TestSupport.random([9, i], seed: 14)
        let dense = try DenseLinear(weight: lora.denseWeight(), bias: lora.denseBias)
        let merged = try dense.forward(x, keepForBackward: false)
        let adapted = try lora.forward(x, keepForBackward: false)
        #expect(try merged.relativeError(to: adapted) < 1e-5)
        #expect(try adapted.relativeError(to: try FrozenLinear(weight: lora.base, bias: lora.bias!.value).forward(x, keepForBackward: false)) > 1e-2)
    }

    @Test func badInputsAreTypedErrors() throws {
        let base = try FrozenWeight(TestSupport.random([o, i], seed: 1), format: .float32)
        #expect(throws: LayerError.self) { _ = try LoRALinear(base: base, options: LoRAOptions(rank: 0), seed: 1) }
        #expect(throws: LayerError.self) { _ = try LoRALinear(base: base, options: LoRAOptions(rank: -3), seed: 1) }
        #expect(throws: LayerError.self) { _ = try LoRALinear(base: base, options: LoRAOptions(rank: 2, dropout: 1), seed: 1) }
        #expect(throws: LayerError.self) {
            _ = try LoRALinear(base: base, bias: nil, loraA: Tensor.zeros([2, i + 1]), loraB: Tensor.zeros([o, 2]),
                               options: LoRAOptions(rank: 2), dropoutSeed: 1)
        }
        let lora = try LoRALinear(base: base, options: LoRAOptions(rank: 2), seed: 1)
        #expect(throws: LayerError.self) { _ = try lora.forward(Tensor.zeros([3, i + 1]), keepForBackward: true) }
        #expect(throws: LayerError.noForwardCache(layer: "LoRA")) { _ = try lora.backward(Tensor.zeros([3, o])) }
        _ = try lora.forward(Tensor.zeros([3, i]), keepForBackward: true)
        #expect(throws: LayerError.self) { _ = try lora.backward(Tensor.zeros([3, o + 2])) }
    }

    @Test func optionsRoundTripPEFTKeys() throws {
        let json = #"{"r": 48, "lora_alpha": 96, "lora_dropout": 0.05, "use_rslora": false}"#
        let options = try JSONDecoder().decode(LoRAOptions.self, from: Data(json.utf8))
        #expect(options == LoRAOptions(rank: 48, alpha: 96, dropout: 0.05))
        #expect(options.scaling == 2)
        let back = try JSONDecoder().decode(LoRAOptions.self, from: JSONEncoder().encode(options))
        #expect(back == options)
    }
}

@Suite struct FullFineTuningTests {
    @Test func denseLinearBackwardMatchesFiniteDifferences() throws {
        let layer = try DenseLinear(weight: TestSupport.random([7, 9], seed: 1), bias: TestSupport.random([7], seed: 2))
        layer.weight.trainable = true
        layer.bias!.trainable = true
        let worst = try GradientCheck.run(layer, x: TestSupport.random([2, 4, 9], seed: 3), probe: TestSupport.random([2, 4, 7], seed: 4))
        #expect(Set(worst.keys) == ["x", "weight", "bias"])
        for (name, d) in worst { #expect(d < 2e-3, "\(name): \(d)") }
    }
}

/// Outputs and gradients of the real PEFT package on one small layer (scripts/fixtures/make_peft_fixture.py).
struct PEFTFixture: Decodable {
    struct Case: Decodable {
        var name: String
        var scaling: Float
        var y: [Float], dX: [Float], dA: [Float], dB: [Float]
        var dM: [Float]?
        var fresh_magnitude: [Float]?
    }
    var in_features: Int, out_features: Int, rows: Int, rank: Int, alpha: Float
    var W: [Float], b: [Float], x: [Float], probe: [Float], A: [Float], B: [Float], m: [Float]
    var cases: [Case]

    static func load() throws -> PEFTFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/peft_lora_dora.json")
        return try JSONDecoder().decode(PEFTFixture.self, from: Data(contentsOf: url))
    }

    func tensor(_ values: [Float], _ shape: [Int]) throws -> Tensor { try Tensor(shape: shape, data: values) }

    /// Runs one training forward and backward of `layer` on the fixture's x and probe; compares with PEFT.
    func check(_ layer: any LinearLayer, _ c: Case, magnitude: Parameter? = nil, loraA: Parameter, loraB: Parameter) throws {
        let x = try tensor(self.x, [rows, in_features])
        let y = try layer.forward(x, keepForBackward: true)
        let dX = try layer.backward(try tensor(probe, [rows, out_features]))
        #expect(try y.relativeError(to: tensor(c.y, y.shape)) < 1e-6, "\(c.name) y")
        #expect(try dX.relativeError(to: tensor(c.dX, dX.shape)) < 1e-6, "\(c.name) dX")
        #expect(try loraA.gradient!.relativeError(to: tensor(c.dA, [rank, in_features])) < 1e-6, "\(c.name) dA")
        #expect(try loraB.gradient!.relativeError(to: tensor(c.dB, [out_features, rank])) < 1e-6, "\(c.name) dB")
        if let m = magnitude { #expect(try m.gradient!.relativeError(to: tensor(c.dM ?? [], [out_features])) < 1e-6, "\(c.name) dM") }
    }
}

@Suite struct LoRAPEFTParityTests {
    @Test func matchesPEFTOutputAndGradients() throws {
        let f = try PEFTFixture.load()
        let base = try FrozenWeight(f.tensor(f.W, [f.out_features, f.in_features]), format: .float32)
        for c in f.cases where c.name != "dora" {
            let options = LoRAOptions(rank: f.rank, alpha: f.alpha, dropout: 0, useRSLoRA: c.name == "rslora")
            let lora = try LoRALinear(base: base, bias: f.tensor(f.b, [f.out_features]),
                                      loraA: f.tensor(f.A, [f.rank, f.in_features]), loraB: f.tensor(f.B, [f.out_features, f.rank]),
                                      options: options, dropoutSeed: 1)
            #expect(lora.scaling == c.scaling)
            try f.check(lora, c, loraA: lora.loraA, loraB: lora.loraB)
        }
    }
}
