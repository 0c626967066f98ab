import FuRANN
import FuRATestSupport
import Testing
@testable import FuRA
@testable import FuRATensor

/// QFuRA (Docs/methods.md §9): a BTT layer whose frozen core is NF4.
@Suite struct QBTTLayerTests {
    /// (d_out, d_in, mode, s_merged_to, train_position): frozen left (m = 1 and m > 1) and frozen right cores.
    static let configs: [(Int, Int, DecompMode, SMergedTo?, TrainPosition)] = [
        (24, 32, .outputOneBlock, .keepTrainable, .small),   // the paper default: btt_l (1, 32, 24) frozen
        (20, 30, .inputOneBlock, .keepTrainable, .small),    // btt_l small ⇒ btt_r (1, 30, 20) frozen, S trains
        (24, 36, .square, .keepTrainable, .large),           // m, n > 1
        (18, 12, .square, .frozen, .small),                  // S merged into the frozen core
        (16, 40, .outputOneBlock, .trainable, .small),       // S merged into the trainable core
        (30, 20, .inputOneBlock, .keepFrozen, .large),
    ]

    static func make(_ c: (Int, Int, DecompMode, SMergedTo?, TrainPosition), seed: UInt64,
                     options: QFuRAOptions = QFuRAOptions()) throws -> (BTTLayer, QBTTLayer, Tensor) {
        let w = TestSupport.random([c.0, c.1], seed: seed)
        let btt = try BTTLayer(converting: w, bias: TestSupport.random([c.0], seed: seed + 1),
                               options: BTTLayerOptions(decompMode: c.2, sMergedTo: c.3, trainPosition: c.4))
        return (btt, try QBTTLayer(quantizing: btt, options: options), w)
    }

    @Test func frozenSideIsTheCoreThatDoesNotTrain() throws {
        let (btt, q, _) = try Self.make(Self.configs[0], seed: 1)
        #expect(q.frozenSide == .left && btt.right.trainable && !btt.left.trainable)
        #expect(q.parameters.map(\.name) == ["btt_r", "btt_s", "bias"])
        #expect(q.trainableCore === btt.right)
        let (_, q2, _) = try Self.make(Self.configs[1], seed: 2)
        #expect(q2.frozenSide == .right)
        #expect(q2.parameters.map(\.name) == ["btt_l", "btt_s", "bias"])
        #expect(q2.core.shape == [1, 30, 20])
    }

    @Test func outputAndGradientsEqualTheBTTWithTheDequantizedCore() throws {
        var seed: UInt64 = 100
        for c in Self.configs {
            for options in [QFuRAOptions(layout: .flat, doubleQuantization: true), QFuRAOptions(layout: .perCoreBlock, doubleQuantization: false)] {
                seed += 10
                let (_, q, _) = try Self.make(c, seed: seed, options: options)
                q.tileElements = 3 * max(q.core.slabColumns, 1)   // several tiles per slab
                let twin = try q.dequantizedBTT()
                let x = TestSupport.random([5, c.1], seed: seed + 2)
                let dY = TestSupport.random([5, c.0], seed: seed + 3)
                let y = try q.forward(x, keepForBackward: true)
                let yRef = try twin.forward(x, keepForBackward: true)
                #expect(try y.relativeError(to: yRef) < 1e-5, "y \(c)")
                let dX = try q.backward(dY)
                let dXRef = try twin.backward(dY)
                #expect(try dX.relativeError(to: dXRef) < 1e-5, "dX \(c)")
                let reference = Dictionary(uniqueKeysWithValues: twin.parameters.map { ($0.name, $0.parameter) })
                var checked = 0
                for (name, p) in q.parameters where p.trainable {
                    let r = try #require(reference[name])
                    #expect(r.trainable, "\(name) \(c)")
                    #expect(try p.gradient!.relativeError(to: r.gradient!) < 1e-5, "d\(name) \(c)")
                    checked += 1
                }
                #expect(checked >= 2)
            }
        }
    }

    @Test func backwardMatchesFiniteDifferences() throws {
        var seed: UInt64 = 300
        for c in Self.configs {
            seed += 10
            let (_, q, _) = try Self.make(c, seed: seed)
            q.tileElements = 2 * max(q.core.slabColumns, 1)
            let x = TestSupport.random([4, c.1], seed: seed + 2)
            let probeWeights = TestSupport.random([4, c.0], seed: seed + 3)
            _ = try q.forward(x, keepForBackward: true)
            let dX = try q.backward(probeWeights)
            let gap = try gradientGap(analytic: dX, at: x) { probe(try q.forward($0, keepForBackward: false), probeWeights) }
            #expect(gap < 2e-3, "dX \(c)")
            for (name, p) in q.parameters where p.trainable {
                let original = p.value
                let gapP = try gradientGap(analytic: p.gradient!, at: original) { v in
                    p.value = v
                    defer { p.value = original }
                    return probe(try q.forward(x, keepForBackward: false), probeWeights)
                }
                #expect(gapP < 2e-3, "\(name) \(c)")
            }
        }
    }

    @Test func freshOutputIsCloseToTheOriginalWithinTheNF4Bound() throws {
        for c in Self.configs {
            for dq in [false, true] {
                let (btt, q, w) = try Self.make(c, seed: 500, options: QFuRAOptions(doubleQuantization: dq))
                let exact = q.frozenSide == .left ? btt.left.value : btt.right.value
                let decoded = q.core.dequantized()
                // Per element: |x̂ − x| ≤ max half-gap · absmax of its block of 64 (plus the absmax error of double quantization).
                for block in 0..<((exact.count + 63) / 64) {
                    let range = (block * 64)..<min(exact.count, block * 64 + 64)
                    let absmax = range.map { abs(exact.storage[$0]) }.max() ?? 0
                    let bound = NF4.maximumHalfGap * absmax * (dq ? 1.02 : 1.000_01) + 1e-7
                    for i in range { #expect(abs(decoded.storage[i] - exact.storage[i]) <= bound, "element \(i) \(c)") }
                }
                // The layer's weight is the original up to that round trip: a few percent, not zero.
                let err = try q.denseWeight().relativeError(to: w)
                #expect(err > 1e-4 && err < 0.15, "\(c) dq \(dq): \(err)")
            }
        }
    }

    @Test func layoutsGiveIdenticalNumbersWhereTheSpecSaysSo() throws {
        // m = 1 (output_one_block, frozen btt_l): per_core_block is one tensor over the same elements ⇒ same codes.
        for dq in [false, true] {
            let (_, flat, _) = try Self.make(Self.configs[0], seed: 600, options: QFuRAOptions(layout: .flat, doubleQuantization: dq))
            let (_, perBlock, _) = try Self.make(Self.configs[0], seed: 600, options: QFuRAOptions(layout: .perCoreBlock, doubleQuantization: dq))
            #expect(flat.core.parts.count == 1 && perBlock.core.parts.count == 1)
            #expect(flat.core.parts[0].packed == perBlock.core.parts[0].packed)
            #expect(flat.core.dequantized().storage == perBlock.core.dequantized().storage)
            let x = TestSupport.random([3, 32], seed: 601)
            #expect(try flat.forward(x, keepForBackward: false).storage == perBlock.forward(x, keepForBackward: false).storage)
        }
        // m > 1 with slabs of a multiple of 64 elements and plain absmax: blocks never cross a slab ⇒ same values.
        let square = (16, 64, DecompMode.square, SMergedTo?.some(.keepTrainable), TrainPosition.large)
        let (_, flat, _) = try Self.make(square, seed: 610, options: QFuRAOptions(layout: .flat, doubleQuantization: false))
        let (_, perBlock, _) = try Self.make(square, seed: 610, options: QFuRAOptions(layout: .perCoreBlock, doubleQuantization: false))
        #expect(flat.core.parts.count == 1 && perBlock.core.parts.count == flat.core.slabCount && flat.core.slabCount > 1)
        #expect(flat.core.dequantized().storage == perBlock.core.dequantized().storage)
        // Slabs that are not a multiple of 64 elements: flat blocks straddle slabs, so the numbers differ (both close).
        let ragged = (18, 12, DecompMode.square, SMergedTo?.some(.keepTrainable), TrainPosition.large)
        let (_, f2, _) = try Self.make(ragged, seed: 620, options: QFuRAOptions(layout: .flat, doubleQuantization: false))
        let (_, p2, _) = try Self.make(ragged, seed: 620, options: QFuRAOptions(layout: .perCoreBlock, doubleQuantization: false))
        #expect(f2.core.slabRows * f2.core.slabColumns % 64 != 0)
        #expect(f2.core.dequantized().storage != p2.core.dequantized().storage)
    }

    @Test func materializedWeightReproducesOutputAfterUpdates() throws {
        var seed: UInt64 = 700
        for c in Self.configs {
            seed += 10
            let (_, q, _) = try Self.make(c, seed: seed, options: QFuRAOptions(layout: .perCoreBlock))
            for (_, p) in q.parameters where p.trainable {
                seed += 1
                try p.value.add(TestSupport.random(p.value.shape, seed: seed, std: 0.1))
            }
            let x = TestSupport.random([6, c.1], seed: seed + 5)
            var expected = try Tensor.matmul(x, try q.denseWeight(), transposeB: true)
            try expected.addRowVector(q.bias!.value)
            #expect(try q.forward(x, keepForBackward: false).relativeError(to: expected) < 1e-5, "\(c)")
        }
    }

    @Test func badInputGivesTypedErrors() throws {
        let both = try BTTLayer(converting: TestSupport.random([8, 12], seed: 800), bias: nil,
                                options: BTTLayerOptions(sMergedTo: .split, trainPosition: .both))
        #expect(throws: ConversionError.self) { try QBTTLayer(quantizing: both) }
        #expect(throws: ConversionError.invalidValue(module: nil, option: "quant_block_layout", value: "diagonal", expected: "flat or per_core_block")) {
            try QFuRAOptions.parseLayout("diagonal")
        }
        #expect(try QFuRAOptions.parseLayout("per-core-block") == .perCoreBlock)
        var bad = TestSupport.random([1, 4, 64], seed: 801)
        bad.storage[70] = .nan
        #expect(throws: NF4Error.self) { try QuantizedCore(bad, side: .left, options: QFuRAOptions()) }
        let (_, q, _) = try Self.make(Self.configs[0], seed: 802)
        #expect(throws: LayerError.self) { try q.forward(TestSupport.random([2, 31], seed: 803), keepForBackward: false) }
        #expect(throws: LayerError.self) { try q.backward(TestSupport.random([2, 24], seed: 804)) }
    }

    @Test func storageIsAboutAnEighthOfFloat() throws {
        let (_, q, _) = try Self.make((64, 256, .outputOneBlock, .keepTrainable, .small), seed: 900)
        let floatBytes = 4 * q.core.count
        // 4 bits + 8/64 (dq codes) per element, plus one absmax2 per 256 blocks and the offset.
        #expect(q.core.byteCount == q.core.count / 2 + q.core.count / 64 + 4 * ((q.core.count / 64 + 255) / 256) + 4)
        #expect(Double(q.core.byteCount) / Double(floatBytes) < 0.13)
    }
}
