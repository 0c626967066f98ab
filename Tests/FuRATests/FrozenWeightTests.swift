import FuRATestSupport
import Testing
@testable import FuRANN
@testable import FuRATensor

@Suite struct FrozenWeightTests {
    /// The decoded weight the products must agree with, built independently of the tiled path.
    static func referenceDense(_ w: Tensor, _ format: FrozenWeightFormat) throws -> Tensor {
        switch format {
        case .float32: return w
        case .bfloat16:
            var values = w.storage
            HalfPrecision.roundToBFloat16(&values)
            return try Tensor(shape: w.shape, data: values)
        case .nf4, .nf4DoubleQuant:
            let q = try NF4.quantize(w, doubleQuantization: format == .nf4DoubleQuant)
            var ref = NF4Reference.dequantize(codes: (0..<q.count).map { q.code(at: $0) },
                                              absmax: q.scales.absmax(blocks: 0..<q.scales.blockCount))
            ref = Array(ref.prefix(w.count))
            return try Tensor(shape: w.shape, data: ref)
        }
    }

    @Test(arguments: FrozenWeightFormat.allCases)
    func productsMatchDecodeThenMatmul(format: FrozenWeightFormat) throws {
        let (n, o, i) = (11, 45, 72)
        let w = TestSupport.random([o, i], seed: 1, std: 0.2)
        let frozen = try FrozenWeight(w, format: format)
        #expect(frozen.format == format)
        let wRef = try Self.referenceDense(w, format)
        #expect(frozen.dense() == wRef)
        let x = TestSupport.random([n, i], seed: 2)
        let dY = TestSupport.random([n, o], seed: 3)
        #expect(try frozen.multiplyTransposed(x).relativeError(to: Tensor.matmul(x, wRef, transposeB: true)) < 1e-6)
        #expect(try frozen.multiply(dY).relativeError(to: Tensor.matmul(dY, wRef)) < 1e-6)
        // Accumulating with a scale.
        var y = TestSupport.random([n, o], seed: 4)
        let y0 = y
        try frozen.multiplyTransposed(x, into: &y, accumulate: true, alpha: 0.5)
        var expected = try Tensor.matmul(x, wRef, transposeB: true)
        expected.scale(by: 0.5)
        try expected.add(y0)
        #expect(try y.relativeError(to: expected) < 1e-6)
        // Small tiles walk the same rows.
        var seen = 0
        var tiles = 0
        frozen.forEachRowTile(tileElements: 5 * i) { r0, r1, tile in
            #expect(r0 == seen)
            for k in 0..<((r1 - r0) * i) where tile[k] != wRef.storage[r0 * i + k] { Issue.record("tile element"); break }
            seen = r1
            tiles += 1
        }
        #expect(seen == o)
        #expect(tiles == (format == .float32 ? 1 : 9))
        let norms = frozen.rowNorms()
        for r in [0, 17, o - 1] {
            let ref = (0..<i).map { Double(wRef[r, $0]) * Double(wRef[r, $0]) }.reduce(0, +).squareRoot()
            #expect(abs(Double(norms[r]) - ref) < 1e-5 * ref)
        }
    }

    @Test func storageByteCountsFollowTheFormats() throws {
        let w = TestSupport.random([256, 512], seed: 5)
        let n = 256 * 512
        #expect(try FrozenWeight(w, format: .float32).byteCount == 4 * n)
        #expect(try FrozenWeight(w, format: .bfloat16).byteCount == 2 * n)
        #expect(try FrozenWeight(w, format: .nf4).byteCount == n / 2 + 4 * (n / 64))
        #expect(try FrozenWeight(w, format: .nf4DoubleQuant).byteCount == n / 2 + n / 64 + 4 * (n / 64 / 256) + 4)
    }

    @Test func badInputIsATypedError() throws {
        #expect(throws: TensorError.self) { _ = try FrozenWeight(Tensor.zeros([4]), format: .bfloat16) }
        var w = TestSupport.random([4, 8], seed: 6)
        w.storage[5] = .infinity
        #expect(throws: NF4Error.nonFinite(tensor: "q_proj", index: 5, value: .infinity)) {
            _ = try FrozenWeight(w, format: .nf4, name: "q_proj")
        }
        let ok = try FrozenWeight(TestSupport.random([4, 8], seed: 7), format: .nf4)
        #expect(throws: TensorError.self) { _ = try ok.multiplyTransposed(Tensor.zeros([3, 7])) }
        #expect(throws: TensorError.self) { _ = try ok.multiply(Tensor.zeros([3, 5])) }
        #expect(throws: TensorError.self) { _ = try FrozenLinear(weight: ok, bias: Tensor.zeros([5])) }
        let layer = try FrozenLinear(weight: ok)
        #expect(throws: LayerError.self) { _ = try layer.forward(Tensor.zeros([2, 3, 7]), keepForBackward: true) }
    }

    @Test(arguments: [FrozenWeightFormat.float32, .nf4DoubleQuant])
    func frozenLinearBackwardMatchesFiniteDifferences(format: FrozenWeightFormat) throws {
        let (o, i) = (6, 10)
        let layer = try FrozenLinear(weight: TestSupport.random([o, i], seed: 8), bias: TestSupport.random([o], seed: 9),
                                     format: format)
        layer.bias!.trainable = true
        let x = TestSupport.random([2, 3, i], seed: 10)
        let probe = TestSupport.random([2, 3, o], seed: 11)
        func loss(_ x: Tensor) throws -> Double {
            let y = try layer.forward(x, keepForBackward: false)
            return zip(y.storage, probe.storage).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let y = try layer.forward(x, keepForBackward: true)
        #expect(y.shape == [2, 3, o])
        let dX = try layer.backward(probe)
        #expect(dX.shape == x.shape)
        let idx = TestSupport.sampleIndices(count: x.count)
        let numeric = try TestSupport.numericGradient(of: loss, at: x, indices: idx)
        #expect(TestSupport.maxRelativeDifference(idx.map { Double(dX.storage[$0]) }, numeric) < 1e-3)
        // dBias = Σ rows of dY.
        #expect(try layer.bias!.gradient!.relativeError(to: probe.sumRows()) < 1e-6)
        #expect(layer.parameters.map(\.name) == ["bias"])
        #expect(try layer.denseWeight() == layer.weight.dense())
    }
}
