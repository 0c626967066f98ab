import FuRATestSupport
import Testing
@testable import FuRA
@testable import FuRANN
@testable import FuRATensor

/// Layer sizes of the DoRA tests: O outputs, I inputs, rank r.
private let o = 10, i = 18, r = 3

@Suite struct DoRATests {
    /// A DoRA layer with random A, B, m and its norm cache computed from them.
    static func layer(format: FrozenWeightFormat, dropout: Float = 0, cacheSteps: Int = 1,
                      formula: DoRAFormula = .peft, bias: Bool = true) throws -> DoRALinear {
        let w = TestSupport.random([o, i], seed: 1, std: 0.3)
        let options = DoRAOptions(lora: LoRAOptions(rank: r, alpha: 6, dropout: dropout), normCacheSteps: cacheSteps, formula: formula)
        var m = TestSupport.random([o], seed: 5, std: 0.3)
        for j in 0..<o { m.storage[j] = 1 + abs(m.storage[j]) }
        return try DoRALinear(base: FrozenWeight(w, format: format), bias: bias ? TestSupport.random([o], seed: 2) : nil,
                              loraA: TestSupport.random([r, i], seed: 3, std: 0.4), loraB: TestSupport.random([o, r], seed: 4, std: 0.4),
                              magnitude: m, options: options, dropoutSeed: 6)
    }

    @Test(arguments: FrozenWeightFormat.allCases)
    func freshAdapterLeavesTheOutputUnchanged(format: FrozenWeightFormat) throws {
        let w = TestSupport.random([o, i], seed: 1)
        let b = TestSupport.random([o], seed: 2)
        let base = try FrozenLinear(weight: w, bias: b, format: format)
        let dora = try DoRALinear(wrapping: try DenseLinear(weight: w, bias: b), format: format,
                                  options: DoRAOptions(lora: LoRAOptions(rank: 4, alpha: 8, dropout: 0)), seed: 7)
        #expect(dora.magnitude.value == base.weight.rowNorms())
        let x = TestSupport.random([2, 5, i], seed: 8)
        #expect(try dora.forward(x, keepForBackward: true).relativeError(to: base.forward(x, keepForBackward: false)) < 1e-6)
        #expect(dora.parameters.map { $0.name } == ["lora_A.weight", "lora_B.weight", "lora_magnitude_vector", "bias"])
        #expect(dora.parameters.map { $0.parameter.trainable } == [true, true, true, false])
    }

    @Test func forwardMatchesTheFormula() throws {
        let dora = try Self.layer(format: .float32)
        let x = TestSupport.random([7, i], seed: 9)
        var adapted = dora.base.dense()
        try Tensor.matmul(dora.loraB.value, dora.loraA.value, into: &adapted, accumulate: true, alpha: dora.scaling)
        var expected = try Tensor.matmul(x, adapted, transposeB: true)
        for row in 0..<7 {
            for j in 0..<o {
                let norm = (0..<i).map { Double(adapted[j, $0]) * Double(adapted[j, $0]) }.reduce(0, +).squareRoot()
                expected[row, j] = Float(Double(expected[row, j]) * Double(dora.magnitude.value[j]) / norm) + dora.bias!.value[j]
            }
        }
        #expect(try dora.forward(x, keepForBackward: false).relativeError(to: expected) < 1e-5)
    }

    /// The backward treats the norm as a constant: checked against finite differences with the norm cache
    /// frozen (a cache period longer than the check), which is exactly the function PEFT differentiates.
    @Test(arguments: [(FrozenWeightFormat.float32, DoRAFormula.peft), (.nf4DoubleQuant, .peft), (.float32, .qdoraFast), (.nf4, .qdoraFast)])
    func backwardMatchesFiniteDifferences(format: FrozenWeightFormat, formula: DoRAFormula) throws {
        let dora = try Self.layer(format: format, cacheSteps: 1_000_000, formula: formula)
        dora.bias!.trainable = true
        let x = TestSupport.random([2, 3, i], seed: 10)
        let probe = TestSupport.random([2, 3, o], seed: 11)
        let worst = try GradientCheck.run(dora, x: x, probe: probe)
        #expect(Set(worst.keys) == ["x", "lora_A.weight", "lora_B.weight", "lora_magnitude_vector", "bias"])
        for (name, d) in worst { #expect(d < 2e-3, "\(name): \(d)") }
    }

    @Test(arguments: [DoRAFormula.peft, .qdoraFast])
    func backwardWithAFixedDropoutMaskMatchesFiniteDifferences(formula: DoRAFormula) throws {
        let dora = try Self.layer(format: .nf4DoubleQuant, dropout: 0.3, cacheSteps: 1_000_000, formula: formula)
        let x = TestSupport.random([5, i], seed: 12)
        let probe = TestSupport.random([5, o], seed: 13)
        let state = dora.dropoutRNG
        let worst = try GradientCheck.run(dora, x: x, probe: probe, prepare: { dora.dropoutRNG = state })
        for (name, d) in worst { #expect(d < 2e-3, "\(name): \(d)") }
    }

    @Test func gradientIgnoresTheNormsDependenceOnTheFactors() throws {
        // With the norm recomputed on every forward (PEFT), the true derivative w.r.t. B includes ∂n/∂B; the
        // detached backward must differ from it while the magnitude gradient (no norm dependence) agrees.
        let dora = try Self.layer(format: .float32, cacheSteps: 1)
        let x = TestSupport.random([4, i], seed: 14), probe = TestSupport.random([4, o], seed: 15)
        let worst = try GradientCheck.run(dora, x: x, probe: probe)
        #expect(worst["lora_magnitude_vector"]! < 2e-3)
        #expect(worst["lora_B.weight"]! > 1e-2)
    }

    @Test func normCacheRefreshesEveryKTrainingForwards() throws {
        let cached = try Self.layer(format: .float32, cacheSteps: 4)
        let every = try Self.layer(format: .float32, cacheSteps: 1)
        let update = TestSupport.random([o, r], seed: 16, std: 0.5)
        try cached.loraB.value.add(update)
        try every.loraB.value.add(update)
        let x = TestSupport.random([3, i], seed: 17)
        let truth = try every.forward(x, keepForBackward: false)
        for step in 1...4 {
            _ = try cached.forward(x, keepForBackward: true)
            let now = try cached.forward(x, keepForBackward: false)  // evaluation forwards use the cache when k > 1
            if step < 4 {
                #expect(try now.relativeError(to: truth) > 1e-3, "stale before the 4th training forward")
            } else {
                #expect(try now.relativeError(to: truth) < 1e-6, "refreshed on the 4th")
            }
        }
        #expect(cached.stepCounter == 4)
    }

    @Test(arguments: [(FrozenWeightFormat.float32, DoRAFormula.peft), (.nf4DoubleQuant, .peft), (.float32, .qdoraFast)])
    func materializedWeightReproducesTheAdaptedOutput(format: FrozenWeightFormat, formula: DoRAFormula) throws {
        let dora = try Self.layer(format: format, formula: formula)
        for step in 0..<3 {
            try dora.loraA.value.add(TestSupport.random([r, i], seed: 20 + UInt64(step), std: 0.1))
            try dora.loraB.value.add(TestSupport.random([o, r], seed: 30 + UInt64(step), std: 0.1))
            try dora.magnitude.value.add(TestSupport.random([o], seed: 40 + UInt64(step), std: 0.1))
        }
        let x = TestSupport.random([6, i], seed: 18)
        let merged = try DenseLinear(weight: dora.denseWeight(), bias: dora.denseBias).forward(x, keepForBackward: false)
        #expect(try merged.relativeError(to: dora.forward(x, keepForBackward: false)) < 1e-5)
    }

    @Test func badInputsAreTypedErrors() throws {
        let base = try FrozenWeight(TestSupport.random([o, i], seed: 1), format: .nf4)
        #expect(throws: LayerError.self) { _ = try DoRALinear(base: base, options: DoRAOptions(lora: LoRAOptions(rank: 0)), seed: 1) }
        #expect(throws: LayerError.self) {
            _ = try DoRALinear(base: base, options: DoRAOptions(lora: LoRAOptions(rank: 2), normCacheSteps: 0), seed: 1)
        }
        #expect(throws: LayerError.self) {
            _ = try DoRALinear(base: base, bias: nil, loraA: Tensor.zeros([2, i]), loraB: Tensor.zeros([o, 2]),
                               magnitude: Tensor.zeros([o + 1]), options: DoRAOptions(lora: LoRAOptions(rank: 2)), dropoutSeed: 1)
        }
        let dora = try DoRALinear(base: base, options: DoRAOptions(lora: LoRAOptions(rank: 2)), seed: 1)
        #expect(throws: LayerError.noForwardCache(layer: "DoRA")) { _ = try dora.backward(Tensor.zeros([1, o])) }
        #expect(throws: LayerError.self) { _ = try dora.forward(Tensor.zeros([1, i - 1]), keepForBackward: false) }
    }
}

@Suite struct DoRAPEFTParityTests {
    @Test func matchesPEFTOutputAndGradients() throws {
        let f = try PEFTFixture.load()
        let w = try f.tensor(f.W, [f.out_features, f.in_features])
        let options = DoRAOptions(lora: LoRAOptions(rank: f.rank, alpha: f.alpha, dropout: 0))
        let c = try #require(f.cases.first { $0.name == "dora" })
        // PEFT's fresh magnitude is the row norm of the base weight.
        let fresh = try DoRALinear(base: FrozenWeight(w, format: .float32), options: options, seed: 1)
        #expect(try fresh.magnitude.value.relativeError(to: f.tensor(c.fresh_magnitude ?? [], [f.out_features])) < 1e-6)
        let dora = try DoRALinear(base: FrozenWeight(w, format: .float32), bias: f.tensor(f.b, [f.out_features]),
                                  loraA: f.tensor(f.A, [f.rank, f.in_features]), loraB: f.tensor(f.B, [f.out_features, f.rank]),
                                  magnitude: f.tensor(f.m, [f.out_features]), options: options, dropoutSeed: 1)
        #expect(dora.scaling == c.scaling)
        try f.check(dora, c, magnitude: dora.magnitude, loraA: dora.loraA, loraB: dora.loraB)
    }
}
