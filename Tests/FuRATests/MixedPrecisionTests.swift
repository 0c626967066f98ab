import Foundation
import FuRA
import FuRAModels
import FuRANN
@testable import FuRATensor
import FuRATestSupport
import FuRATrain
import Testing

/// bf16 training (`ComputePrecision.bf16`): the packings against their f32 twins bit for bit, the products against a
/// reference that rounds both operands to bf16 and sums in Double, every method's layer and a whole model's step
/// against the f32 step, and the `precision` key of a run's config.
@Suite struct MixedPrecisionTests {
    static func bf16(_ value: Float) -> Float { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: value)) }

    /// y = bf16(x) · bf16(W)ᵀ summed in Double: what the AVX512-BF16 products compute up to f32 summation order.
    static func roundedProduct(_ x: Tensor, _ w: Tensor) -> Tensor {
        let (n, i) = (x.shape[0], x.shape[1]), o = w.shape[0]
        var y = Tensor.zeros([n, o])
        for r in 0..<n {
            for c in 0..<o {
                var acc = 0.0
                for k in 0..<i { acc += Double(bf16(x.storage[r * i + k])) * Double(bf16(w.storage[c * i + k])) }
                y.storage[r * o + c] = Float(acc)
            }
        }
        return y
    }

    static func transpose(_ t: Tensor) -> Tensor {
        let (r, c) = (t.shape[0], t.shape[1])
        var out = Tensor.zeros([c, r])
        for a in 0..<r { for b in 0..<c { out.storage[b * r + a] = t.storage[a * c + b] } }
        return out
    }

    static func relativeGap(_ a: Tensor, _ b: Tensor) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a.storage, b.storage) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
        return (num / max(den, 1e-30)).squareRoot()
    }

    /// Rounding f32 panels to bf16 pairs gives the bits of packing W as bf16 pairs directly (odd I: zero padding).
    @Test(arguments: [(37, 77), (32, 64), (16, 3)])
    func bfloat16DotCopyEqualsDirectPacking(rows: Int, columns: Int) throws {
        let w = TestSupport.random([rows, columns], seed: 3)
        let copied = try PanelMatrix(w, storage: .float32).bfloat16DotCopy()
        let direct = try PanelMatrix(w, storage: .bfloat16Dot)
        #expect(copied.widened().storage == direct.widened().storage)
        let x = TestSupport.random([9, columns], seed: 4)
        #expect(try copied.multiply(x).storage == direct.multiply(x).storage)
        #expect(throws: TensorError.self) { try direct.bfloat16DotCopy() }
    }

    /// W_eff = blockdiag(A)·B formed straight into bf16 pairs equals the f32 panels rounded afterwards, bit for bit
    /// (even and odd block heights, so pairs straddle blocks).
    @Test(arguments: [(3, 8, 4), (2, 5, 3), (4, 12, 12)])
    func blockDiagonalPanelsRoundTheF32Sums(blocks: Int, blockRows: Int, rank: Int) throws {
        let o = 32
        let a = TestSupport.random([blocks * blockRows, rank], seed: 5)
        let b = TestSupport.random([blocks * rank, o], seed: 6)
        func panels(_ storage: PanelMatrix.Storage) throws -> PanelMatrix {
            try a.withUnsafeBufferPointer { ap in
                try b.withUnsafeBufferPointer { bp in
                    try PanelMatrix(blockDiagonal: ap.baseAddress!, lda: rank, blocks: blocks, blockRows: blockRows, rank: rank,
                                    times: bp.baseAddress!, ldb: o, columns: o, storage: storage)
                }
            }
        }
        let f32 = try panels(.float32), paired = try panels(.bfloat16Dot)
        #expect(paired.widened().storage == (try f32.bfloat16DotCopy()).widened().storage)
    }

    /// Both products of `TrainingPanels`: at bf16 the rounded-operand reference, at f32 the exact products.
    @Test func trainingPanelsProductsMatchTheirReferences() throws {
        let w = TestSupport.random([45, 70], seed: 7)
        let x = TestSupport.random([13, 70], seed: 8), dY = TestSupport.random([13, 45], seed: 9)
        let half = try TrainingPanels(w, precision: .bf16)
        #expect(Self.relativeGap(try half.multiplyTransposed(x), Self.roundedProduct(x, w)) < 1e-5)
        #expect(Self.relativeGap(try half.multiply(dY), Self.roundedProduct(dY, Self.transpose(w))) < 1e-5)
        #expect(half.byteCount < 2 * 4 * w.count / 2 + 4096)   // two bf16 copies: about one f32 copy
        let exact = try TrainingPanels(w, precision: .f32)
        #expect(Self.relativeGap(try exact.multiplyTransposed(x), try Tensor.matmul(x, w, transposeB: true)) < 1e-6)
        #expect(Self.relativeGap(try exact.multiply(dY), try Tensor.matmul(dY, w)) < 1e-6)
    }

    /// An inner dimension past the kernel's K slice (2,048 pairs: the LM head's input gradient has V/2) is summed slice
    /// by slice into y: the same products as the rounded-operand reference, on the fast and the portable path.
    @Test func longInnerDimensionsAreSummedInSlices() throws {
        let w = TestSupport.random([20, 4_501], seed: 10, std: 0.05), x = TestSupport.random([11, 4_501], seed: 11)
        let m = try PanelMatrix(w, storage: .bfloat16Dot)
        let reference = Self.roundedProduct(x, w)
        #expect(Self.relativeGap(try m.multiply(x), reference) < 1e-5)
        var portable = Tensor.zeros([11, 20])
        x.withUnsafeBufferPointer { px in
            portable.withUnsafeMutableBufferPointer { m.multiplyBFloat16Dot(px.baseAddress!, rows: 11, into: $0.baseAddress!, portable: true) }
        }
        #expect(Self.relativeGap(portable, reference) < 1e-5)
    }

    /// Frozen weights at bf16, every storage: f32 and bf16 through the kept packing, NF4 a decoded tile at a time
    /// (tiles of a few rows here, so several tiles and the accumulate paths run): the rounded-operand reference of the
    /// decoded weight, with `alpha` and accumulation.
    @Test(arguments: [FrozenWeightFormat.float32, .bfloat16, .nf4DoubleQuant])
    func frozenWeightProductsAtBF16(format: FrozenWeightFormat) throws {
        let w = TestSupport.random([40, 64], seed: 12, std: 0.1)
        let frozen = try FrozenWeight(w, format: format)
        let decoded = frozen.dense()
        let x = TestSupport.random([9, 64], seed: 13), dY = TestSupport.random([9, 40], seed: 14)
        var y = TestSupport.random([9, 40], seed: 15)
        let y0 = y
        try frozen.multiplyTransposed(x, into: &y, accumulate: true, alpha: 0.5, precision: .bf16)
        var expected = Self.roundedProduct(x, decoded)
        for k in expected.storage.indices { expected.storage[k] = y0.storage[k] + 0.5 * expected.storage[k] }
        #expect(Self.relativeGap(y, expected) < 1e-5)
        let dX = try frozen.multiply(dY, precision: .bf16)
        #expect(Self.relativeGap(dX, Self.roundedProduct(dY, Self.transpose(decoded))) < 1e-5)
        if format == .nf4DoubleQuant {
            // Several tiles: the same numbers, summed per tile.
            var tiledOut = Tensor.zeros([0, 0])
            let tiled = RowTiledMatrix(rows: 40, columns: 64, tileElements: 64 * 7) { r0, r1, tile in
                decoded.withUnsafeBufferPointer { (tile).update(from: $0.baseAddress! + r0 * 64, count: (r1 - r0) * 64) }
            }
            try tiled.multiply(dY, into: &tiledOut, precision: .bf16)
            #expect(Self.relativeGap(tiledOut, dX) < 1e-5)
            try tiled.multiplyTransposed(x, into: &tiledOut, precision: .bf16)
            #expect(Self.relativeGap(tiledOut, Self.roundedProduct(x, decoded)) < 1e-5)
        }
    }

    /// QFuRA's NF4 core at bf16, one tile and several: forward and dX follow the f32 layer within bf16 rounding (and
    /// differ from it), and the tile count does not matter beyond rounding.
    @Test func quantizedCoreProductsAtBF16() throws {
        let w = TestSupport.random([48, 64], seed: 16, std: 0.1)
        let x = TestSupport.random([10, 64], seed: 17), dY = TestSupport.random([10, 48], seed: 18)
        func run(_ precision: ComputePrecision, tileElements: Int) throws -> (Tensor, Tensor) {
            let layer = try QBTTLayer(quantizing: try BTTLayer(converting: w, bias: nil))
            layer.computePrecision = precision
            layer.tileElements = tileElements
            let y = try layer.forward(x, keepForBackward: true)
            return (y, try layer.backward(dY))
        }
        let (y32, dx32) = try run(.f32, tileElements: 1 << 20)
        for tiles in [1 << 20, 48 * 5] {
            let (y16, dx16) = try run(.bf16, tileElements: tiles)
            #expect(Self.relativeGap(y16, y32) < 1e-2 && y16.storage != y32.storage)
            #expect(Self.relativeGap(dx16, dx32) < 1e-2 && dx16.storage != dx32.storage)
        }
    }

    /// The packing is made once and kept while the version stays, re-made when it changes.
    @Test func packingCacheFollowsVersionAndPrecision() throws {
        let cache = PackingCache<PanelMatrix>()
        var made = 0
        func get(_ version: Int, _ precision: ComputePrecision) throws -> PanelMatrix {
            try cache.value(version: version, precision: precision) { made += 1; return try PanelMatrix(TestSupport.random([16, 4], seed: 1), storage: .float32) }
        }
        let first = try get(0, .bf16)
        #expect(try get(0, .bf16) === first && made == 1)
        _ = try get(1, .bf16); _ = try get(1, .f32)
        #expect(made == 3)
    }

    /// One forward and backward of a tiny model at each precision: (loss, dX of the embedding rows, trainable gradients).
    static func step(_ method: TrainMethod, precision: ComputePrecision) throws -> (Double, [String: Tensor]) {
        let model = try CausalLM.random(config: TrainMethodSetupTests.modelConfig, seed: 11)
        let url = FileManager.default.temporaryDirectory
        var config = try TrainConfig.resolve(file: nil, overrides: [
            "model": "random", "data": url.path, "output": url.path, "method": method.rawValue, "iters": 1,
            "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.0,
        ])
        config.precision = precision
        _ = try TrainMethodSetup.apply(config, to: model)
        model.computePrecision = precision
        // LoRA's B starts at zero: give it values so its products matter.
        for (name, p) in model.namedParameters where name.hasSuffix("lora_B.weight") {
            p.value = TestSupport.random(p.value.shape, seed: 21, std: 0.05)
        }
        var rng = RNG(seed: 3)
        let ids = (0..<2).map { _ in (0..<24).map { _ in rng.int(below: 128) } }
        let batch = TokenBatch(ids: ids, labels: ids.map { Array($0.dropFirst()) + [1] }, lengths: [24, 24])
        let (loss, _) = try model.accumulateGradients(batch, lossScale: 1 / 48)
        var gradients = [String: Tensor]()
        for (name, p) in model.namedParameters where p.trainable { gradients[name] = p.gradient }
        return (loss, gradients)
    }

    /// Every method's bf16 step follows its f32 step: the loss within 0.5 %, each trainable tensor's gradient within
    /// 5 % (relative ℓ2; bf16 keeps 8 bits of mantissa), and nothing is lost (same tensors train).
    @Test(arguments: [TrainMethod.fura, .svd, .lora, .dora, .pissa, .full, .qfura, .qlora, .qdora])
    func bf16StepFollowsTheF32Step(method: TrainMethod) throws {
        let (loss32, grads32) = try Self.step(method, precision: .f32)
        let (loss16, grads16) = try Self.step(method, precision: .bf16)
        #expect(abs(loss16 - loss32) / loss32 < 5e-3, "\(method): loss \(loss16) vs \(loss32)")
        #expect(loss16 != loss32, "\(method): the bf16 step computed in f32")
        #expect(Set(grads16.keys) == Set(grads32.keys) && !grads32.isEmpty)
        var worst = 0.0
        for (name, g) in grads32 {
            let norm = g.storage.reduce(0.0) { $0 + Double($1) * Double($1) }
            guard norm > 1e-20, let h = grads16[name] else { continue }
            worst = max(worst, Self.relativeGap(h, g))
        }
        #expect(worst < 5e-2, "\(method): worst relative gradient gap \(worst)")
    }

    /// bf16 is not f32 in disguise: the logits differ (by rounding), and a layer put into a slot after the precision
    /// was set computes at it too.
    @Test func precisionReachesTheHeadAndLaterLayers() throws {
        let model = try CausalLM.random(config: TrainMethodSetupTests.modelConfig, seed: 11)
        let hidden = TestSupport.random([5, 16], seed: 2)
        let exact = try model.logits(hidden: hidden)
        model.computePrecision = .bf16
        let rounded = try model.logits(hidden: hidden)
        #expect(rounded.storage != exact.storage)
        #expect(Self.relativeGap(rounded, exact) < 1e-2)
        let name = model.linearSlotNames[0]
        let replacement = try DenseLinear(weight: try model.linear(named: name)!.denseWeight())
        try model.setLinear(replacement, named: name)
        #expect(replacement.computePrecision == .bf16)
        model.computePrecision = .f32
        #expect(model.linearSlotNames.allSatisfy { model.linear(named: $0)!.computePrecision == .f32 })
        #expect(try model.logits(hidden: hidden).storage == exact.storage)
    }

    /// The config key: written and read back, f32 when an older config has none, a typed error for other values;
    /// `fura train`'s and `fura grpo`'s default is bf16 exactly where the CPU has AVX512-BF16, the library's f32.
    @Test func precisionKeyOfTheRunConfig() throws {
        let url = FileManager.default.temporaryDirectory
        let base: [String: Any] = ["model": "m", "data": url.path, "output": url.path]
        let cliDefault: ComputePrecision = PanelMatrix.hasBFloat16DotInstructions ? .bf16 : .f32
        #expect(try TrainConfig.resolve(file: nil, overrides: base).precision == cliDefault)
        #expect(try GRPORunConfig.resolve(configFile: nil, overrides: ["output": url.path, "task": "arithmetic"]).options.precision == cliDefault)
        #expect(TrainConfig.defaults(method: .fura).precision == .f32 && GRPOOptions().precision == .f32)
        var overrides = base
        overrides["precision"] = "bf16"
        let config = try TrainConfig.resolve(file: nil, overrides: overrides)
        #expect(config.precision == .bf16)
        let decoded = try JSONDecoder().decode(TrainConfig.self, from: try JSONEncoder().encode(config))
        #expect(decoded.precision == .bf16)
        var json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(config)) as! [String: Any]
        json.removeValue(forKey: "precision")
        #expect(try JSONDecoder().decode(TrainConfig.self, from: try JSONSerialization.data(withJSONObject: json)).precision == .f32)
        overrides["precision"] = "fp8"
        #expect(throws: (any Error).self) { try TrainConfig.resolve(file: nil, overrides: overrides) }
    }
}
