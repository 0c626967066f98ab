import FuRANN
import FuRATestSupport
import Testing
@testable import FuRA
@testable import FuRATensor

/// Shapes (d_out, d_in, output factorization, input factorization) covering non-square, prime and head-like grids.
let bttTestShapes: [(Int, Int, FactorPair?, FactorPair?)] = [
    (12, 18, nil, nil), (18, 12, nil, nil), (7, 13, nil, nil), (13, 7, nil, nil),
    (24, 16, FactorPair(4, 6), FactorPair(2, 8)), (10, 35, nil, FactorPair(5, 7)), (6, 4, FactorPair(2, 3), FactorPair(2, 2)),
]

func bttLoss(_ y: Tensor, _ c: Tensor) -> Double {
    var acc = 0.0
    for i in 0..<y.count { acc += Double(y.storage[i]) * Double(c.storage[i]) }
    return acc
}

@Suite struct BTTLayerTests {
    @Test func closestFactorPairMatchesTheSpecTable() {
        let expected: [Int: (Int, Int)] = [4096: (64, 64), 14336: (112, 128), 11008: (86, 128), 2048: (32, 64),
                                           6144: (64, 96), 3584: (56, 64), 18944: (128, 148), 1024: (32, 32), 512: (16, 32),
                                           13: (1, 13), 1: (1, 1), 576: (24, 24), 1536: (32, 48)]
        for (d, pair) in expected { #expect(closestFactorPair(d) == pair, "d = \(d)") }
    }

    @Test func geometryFollowsDecompModeAndRank() throws {
        let sq = try BTTGeometry.resolve(inFeatures: 18, outFeatures: 12, decompMode: .square, rank: .full)
        #expect(sq == BTTGeometry(m: 3, a: 4, n: 3, b: 6, r: 4))
        let out = try BTTGeometry.resolve(inFeatures: 18, outFeatures: 12, decompMode: .outputOneBlock, rank: .full)
        #expect(out == BTTGeometry(m: 1, a: 12, n: 3, b: 6, r: 6))
        let inp = try BTTGeometry.resolve(inFeatures: 18, outFeatures: 12, decompMode: .inputOneBlock, rank: .full)
        #expect(inp == BTTGeometry(m: 3, a: 4, n: 1, b: 18, r: 4))
        // Fraction: T = 0.3·12·18 = 64.8; m·n·(a+b) = 9·10 = 90 ⇒ approx 0.72 ⇒ low = high = 1.
        #expect(try BTTGeometry.resolve(inFeatures: 18, outFeatures: 12, decompMode: .square, rank: .fraction(0.3)).r == 1)
        // T = 0.5·64·64 = 2048, m = n = 8, a = b = 8: per rank 64·16 = 1024 ⇒ exactly 2.
        #expect(try BTTGeometry.resolve(inFeatures: 64, outFeatures: 64, decompMode: .square, rank: .fraction(0.5)).r == 2)
        // T = 0.4·4096 = 1638.4, per rank 1024: low 1 (err 614.4), high 2 (err 409.6) ⇒ 2.
        #expect(try BTTGeometry.resolve(inFeatures: 64, outFeatures: 64, decompMode: .square, rank: .fraction(0.4)).r == 2)
        // T = 0.375·4096 = 1536: low 1 (err 512) and high 2 (err 512) tie ⇒ low.
        #expect(try BTTGeometry.resolve(inFeatures: 64, outFeatures: 64, decompMode: .square, rank: .fraction(0.375)).r == 1)
        #expect(try BTTGeometry.resolve(inFeatures: 18, outFeatures: 12, decompMode: .square, rank: .fixed(9)).r == 9)
        #expect(DecompMode(parsing: "input") == .inputOneBlock)
        #expect(DecompMode(parsing: "output_block") == .outputOneBlock)
        #expect(DecompMode(parsing: "diagonal") == nil)
    }

    /// btt_r[j, q, i·r + k] = V_ijᵀ[k, q], btt_l[i, j·r + k, p] = U_ij[p, k], btt_s[i, j, k] = S_ij[k], element by element.
    @Test func packingMatchesTheReferenceIndexOrders() throws {
        // d_out = 6 = 2 blocks of 3, d_in = 4 = 2 blocks of 2, r = 2.
        let w = try Tensor(shape: [6, 4], data: (0..<24).map { Float(($0 * 7) % 11) - 5 + Float($0) * 0.1 })
        let options = BTTLayerOptions(decompMode: .square, sMergedTo: .keepFrozen,
                                      outputFactorization: FactorPair(2, 3), inputFactorization: FactorPair(2, 2))
        let layer = try BTTLayer(converting: w, bias: nil, options: options)
        let g = layer.geometry
        #expect(g == BTTGeometry(m: 2, a: 3, n: 2, b: 2, r: 2))
        #expect(layer.right.value.shape == [2, 2, 4])
        #expect(layer.left.value.shape == [2, 4, 3])
        #expect(layer.singular?.value.shape == [2, 2, 2])
        for i in 0..<2 {
            for j in 0..<2 {
                var block = Tensor.zeros([3, 2])
                for p in 0..<3 { for q in 0..<2 { block[p, q] = w[i * 3 + p, j * 2 + q] } }
                let svd = try LAPACK.svd(block)
                for k in 0..<2 {
                    #expect(abs(layer.singular!.value[i, j, k] - svd.s[k]) < 1e-5)
                    for q in 0..<2 { #expect(abs(layer.right.value[j, q, i * 2 + k] - svd.vt[k, q]) < 1e-5) }
                    for p in 0..<3 { #expect(abs(layer.left.value[i, j * 2 + k, p] - svd.u[p, k]) < 1e-5) }
                }
            }
        }
    }

    @Test func conversionIsLosslessForEveryModeMergeAndConvertMode() throws {
        var seed: UInt64 = 10
        for (o, i, outF, inF) in bttTestShapes {
            for mode in DecompMode.allCases {
                for convert in ConvertMode.allCases {
                    let merges: [SMergedTo?] = convert == .qr ? [nil, .output, .frozen] : [nil] + SMergedTo.allCases.map { $0 }
                    for merge in merges {
                        for position in TrainPosition.allCases {
                            if position == .both && (merge == .frozen || merge == .trainable) { continue }
                            seed += 1
                            let w = TestSupport.random([o, i], seed: seed)
                            let bias = TestSupport.random([o], seed: seed + 1000)
                            let options = BTTLayerOptions(decompMode: mode, sMergedTo: merge, trainPosition: position,
                                                          convertMode: convert, outputFactorization: outF, inputFactorization: inF)
                            let layer = try BTTLayer(converting: w, bias: bias, options: options)
                            let label = "\(o)x\(i) \(mode) \(convert) \(merge?.rawValue ?? "nil") \(position)"
                            #expect(try layer.denseWeight().relativeError(to: w) < 1e-5, "\(label)")
                            let x = TestSupport.random([5, i], seed: seed + 2000)
                            var expected = try Tensor.matmul(x, w, transposeB: true)
                            try expected.addRowVector(bias)
                            #expect(try layer.forward(x, keepForBackward: false).relativeError(to: expected) < 1e-5, "\(label)")
                        }
                    }
                }
            }
        }
    }

    @Test func fastForwardAndBackwardMatchTheReference() throws {
        var seed: UInt64 = 300
        for (o, i, outF, inF) in bttTestShapes {
            for mode in DecompMode.allCases {
                for merge in [SMergedTo.keepTrainable, .split] {
                    for position in TrainPosition.allCases {
                        seed += 1
                        let options = BTTLayerOptions(decompMode: mode, sMergedTo: merge, trainPosition: position,
                                                      outputFactorization: outF, inputFactorization: inF)
                        let layer = try BTTLayer(converting: TestSupport.random([o, i], seed: seed), bias: TestSupport.random([o], seed: seed + 1),
                                                 options: options)
                        // Random cores, so the check does not depend on SVD structure.
                        layer.right.value = TestSupport.random(layer.right.value.shape, seed: seed + 2)
                        layer.left.value = TestSupport.random(layer.left.value.shape, seed: seed + 3)
                        if let s = layer.singular { s.value = TestSupport.random(s.value.shape, seed: seed + 4) }
                        let x = TestSupport.random([2, 3, i], seed: seed + 5)
                        let dY = TestSupport.random([2, 3, o], seed: seed + 6)
                        let y = try layer.forward(x, keepForBackward: true)
                        #expect(y.shape == [2, 3, o])
                        let ref = try BTTReference.forward(try x.reshaped([6, i]), right: layer.right.value, left: layer.left.value,
                                                           singular: layer.singular?.value, bias: layer.bias?.value, geometry: layer.geometry)
                        #expect(try y.reshaped([6, o]).relativeError(to: ref) < 1e-5)
                        let dX = try layer.backward(dY)
                        let grads = BTTReference.gradients(try x.reshaped([6, i]), try dY.reshaped([6, o]), right: layer.right.value,
                                                           left: layer.left.value, singular: layer.singular?.value, geometry: layer.geometry)
                        let label = "\(o)x\(i) \(mode) \(merge) \(position)"
                        #expect(try dX.reshaped([6, i]).relativeError(to: grads.dX) < 1e-5, "\(label)")
                        if layer.right.trainable { #expect(try layer.right.gradient!.relativeError(to: grads.dRight) < 1e-5, "\(label)") }
                        if layer.left.trainable { #expect(try layer.left.gradient!.relativeError(to: grads.dLeft) < 1e-5, "\(label)") }
                        if let s = layer.singular, s.trainable { #expect(try s.gradient!.relativeError(to: grads.dSingular) < 1e-5, "\(label)") }
                        #expect(try layer.bias!.gradient!.relativeError(to: grads.dBias) < 1e-5)
                        #expect(try layer.denseWeight().relativeError(to: BTTReference.denseWeight(
                            right: layer.right.value, left: layer.left.value, singular: layer.singular?.value, geometry: layer.geometry)) < 1e-5)
                    }
                }
            }
        }
    }

    /// The packed block kernels (`SmallProduct`) against the one-sgemm-per-block twin: same output, dX and
    /// gradients for every mode, merge target and train position (both paths forced on every shape).
    @Test func packedBlockProductsMatchTheSgemmTwin() throws {
        var seed: UInt64 = 900
        for (o, i, outF, inF) in bttTestShapes + [(40, 96, nil, nil), (30, 48, FactorPair(2, 15), FactorPair(3, 16))] {
            for mode in DecompMode.allCases {
                for merge in [SMergedTo.keepTrainable, .split, .frozen] {
                    for position in TrainPosition.allCases where !(merge == .frozen && position == .both) {
                        seed += 7
                        func run(_ path: BTTBlockProducts) throws -> [Tensor] {
                            let layer = try BTTLayer(converting: TestSupport.random([o, i], seed: seed), bias: nil,
                                                     options: BTTLayerOptions(decompMode: mode, sMergedTo: merge, trainPosition: position,
                                                                              outputFactorization: outF, inputFactorization: inF))
                            if let s = layer.singular { s.trainable = true }
                            layer.blockProducts = path
                            let y = try layer.forward(TestSupport.random([11, i], seed: seed + 1), keepForBackward: true)
                            let dX = try layer.backward(TestSupport.random([11, o], seed: seed + 2))
                            // Twice, so accumulation into existing gradients is covered too.
                            _ = try layer.forward(TestSupport.random([11, i], seed: seed + 3), keepForBackward: true)
                            _ = try layer.backward(TestSupport.random([11, o], seed: seed + 4))
                            return [y, dX] + layer.parameters.compactMap(\.parameter.gradient)
                        }
                        let packed = try run(.packed), blas = try run(.blas)
                        #expect(packed.count == blas.count && packed.count >= 3)
                        for (p, b) in zip(packed, blas) {
                            #expect(try p.relativeError(to: b) < 1e-5, "\(o)x\(i) \(mode) \(merge) \(position)")
                        }
                    }
                }
            }
        }
        // The default choice: packed for many small input blocks, sgemm for one input block.
        #expect(BTTBlockProducts.preferred(for: BTTGeometry(m: 1, a: 576, n: 32, b: 48, r: 48)) == .packed)
        #expect(BTTBlockProducts.preferred(for: BTTGeometry(m: 24, a: 24, n: 1, b: 1536, r: 24)) == .blas)
    }

    /// Both forward routes (W_eff = blockdiag(R')·L first, or the block products) and the fused backward (dH formed
    /// 64 rows at a time, m = 1) against the sgemm twin: same y, dX and gradients for every mode, merge target and
    /// train position, with one tile, with several (a partial one last) split over two threads, and with no rows.
    @Test func forwardRoutesAndFusedBackwardMatchTheTwin() throws {
        var seed: UInt64 = 4_000
        for (o, i, outF, inF) in [(40, 96, nil, nil), (96, 40, nil, nil), (13, 7, nil, nil), (30, 48, FactorPair(2, 15), FactorPair(3, 16))] {
            for mode in DecompMode.allCases {
                for merge in [SMergedTo.keepTrainable, .split, .frozen] {
                    for position in TrainPosition.allCases where !(merge == .frozen && position == .both) {
                        for (rows, threads) in [(11, 1), (150, 2), (0, 1)] {
                            seed += 5
                            func run(_ products: BTTBlockProducts, _ route: BTTForwardRoute) throws -> [Tensor] {
                                Threading.setThreadCount(threads)
                                defer { Threading.setThreadCount(1) }
                                let layer = try BTTLayer(converting: TestSupport.random([o, i], seed: seed), bias: nil,
                                                         options: BTTLayerOptions(decompMode: mode, sMergedTo: merge, trainPosition: position,
                                                                                  outputFactorization: outF, inputFactorization: inF))
                                if let s = layer.singular { s.trainable = true }
                                layer.blockProducts = products
                                layer.forwardRoute = route
                                var out: [Tensor] = []
                                for step in 0..<2 {   // twice: accumulation into existing gradients is covered too
                                    out.append(try layer.forward(TestSupport.random([rows, i], seed: seed + 1 + UInt64(step)), keepForBackward: true))
                                    out.append(try layer.backward(TestSupport.random([rows, o], seed: seed + 3 + UInt64(step))))
                                }
                                return out + layer.parameters.compactMap(\.parameter.gradient)
                            }
                            let twin = try run(.blas, .blockProducts)
                            for (products, route) in [(BTTBlockProducts.packed, BTTForwardRoute.effectiveWeight), (.packed, .blockProducts), (.blas, .effectiveWeight)] {
                                let other = try run(products, route)
                                #expect(other.count == twin.count && twin.count >= 5)
                                for (a, b) in zip(other, twin) {
                                    #expect(try a.relativeError(to: b) < 1e-5, "\(o)x\(i) \(mode) \(merge) \(position) rows \(rows) \(products) \(route)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Past `panelProductLimit` input features the W_eff route multiplies by sgemm instead of panels, and past it output
    /// features the backward takes the unfused path: the same numbers as the twin.
    @Test func wideLayersTakeTheSgemmRoutes() throws {
        for (o, i) in [(32, 2112), (2112, 32)] {
            func run(_ products: BTTBlockProducts, _ route: BTTForwardRoute) throws -> [Tensor] {
                let layer = try BTTLayer(converting: TestSupport.random([o, i], seed: 77), bias: nil)
                layer.blockProducts = products
                layer.forwardRoute = route
                let y = try layer.forward(TestSupport.random([20, i], seed: 78), keepForBackward: true)
                let dX = try layer.backward(TestSupport.random([20, o], seed: 79))
                return [y, dX] + layer.parameters.compactMap(\.parameter.gradient)
            }
            let twin = try run(.blas, .blockProducts), fast = try run(.packed, .effectiveWeight)
            #expect(fast.count == twin.count && twin.count >= 3)
            for (a, b) in zip(fast, twin) { #expect(try a.relativeError(to: b) < 1e-5, "\(i)→\(o)") }
        }
    }

    /// The forward route by work: W_eff for SmolLM2's projections at 1024 tokens, the block products for few tokens
    /// and for 4096² (where forming W_eff costs more than the block products and its product runs on sgemm).
    @Test func forwardRouteFollowsTheMultiplyAddCount() {
        for (o, i, n, b) in [(576, 576, 24, 24), (1536, 576, 24, 24), (576, 1536, 32, 48), (192, 576, 24, 24)] {
            let g = BTTGeometry(m: 1, a: o, n: n, b: b, r: min(o, b))
            #expect(i == n * b)
            #expect(BTTForwardRoute.preferred(for: g, rows: 1024) == .effectiveWeight, "\(i)→\(o)")
            #expect(BTTForwardRoute.preferred(for: g, rows: 16) == .blockProducts, "\(i)→\(o) at 16 rows")
        }
        #expect(BTTForwardRoute.preferred(for: BTTGeometry(m: 1, a: 4096, n: 64, b: 64, r: 64), rows: 1024) == .blockProducts)
    }

    /// Every trainable tensor and dX against central finite differences of a Double-accumulated loss.
    @Test func blockProductsSideBySideGiveTheSameNumbersAsOneThread() throws {
        // The n (and m) block products run in parallel chunks with 2 threads; each block is the same serial product.
        for (mode, position) in [(DecompMode.outputOneBlock, TrainPosition.small), (.square, .both), (.inputOneBlock, .small)] {
            func run(threads: Int) throws -> [Tensor] {
                Threading.setThreadCount(threads)
                defer { Threading.setThreadCount(1) }
                let layer = try BTTLayer(converting: TestSupport.random([48, 96], seed: 91), bias: nil,
                                         options: BTTLayerOptions(decompMode: mode, trainPosition: position))
                layer.forwardRoute = .effectiveWeight   // the default at many rows; ignored when the left core trains
                let y = try layer.forward(TestSupport.random([150, 96], seed: 92), keepForBackward: true)
                let dX = try layer.backward(TestSupport.random([150, 48], seed: 93))
                return [y, dX] + layer.parameters.compactMap(\.parameter.gradient)
            }
            let one = try run(threads: 1), two = try run(threads: 2)
            #expect(one.count == two.count && one.count >= 3)
            for (a, b) in zip(one, two) { #expect(try a.relativeError(to: b) < 1e-6, "\(mode)") }
            if mode == .outputOneBlock {
                // W_eff on panels and the fused backward (runs of tiles with their own sums): bit-identical, so a
                // run resumed with another thread count continues exactly.
                for (a, b) in zip(one, two) { #expect(a.storage == b.storage, "\(mode)") }
            }
        }
    }

    @Test func backwardMatchesFiniteDifferences() throws {
        let configs: [(DecompMode, SMergedTo?, TrainPosition)] = [
            (.outputOneBlock, .keepTrainable, .small), (.outputOneBlock, .keepTrainable, .large), (.outputOneBlock, .split, .both),
            (.square, .keepTrainable, .both), (.square, .frozen, .small), (.inputOneBlock, .trainable, .large),
            (.inputOneBlock, .keepTrainable, .small), (.square, .keepFrozen, .large),
        ]
        var seed: UInt64 = 700
        for (mode, merge, position) in configs {
            seed += 10
            let (o, i) = (12, 18)
            let layer = try BTTLayer(converting: TestSupport.random([o, i], seed: seed), bias: TestSupport.random([o], seed: seed + 1),
                                     options: BTTLayerOptions(decompMode: mode, sMergedTo: merge, trainPosition: position))
            let x = TestSupport.random([4, i], seed: seed + 2)
            let c = TestSupport.random([4, o], seed: seed + 3)
            _ = try layer.forward(x, keepForBackward: true)
            let dX = try layer.backward(c)
            let xIdx = TestSupport.sampleIndices(count: x.count)
            let numX = try TestSupport.numericGradient(of: { bttLoss(try layer.forward($0, keepForBackward: false), c) }, at: x, indices: xIdx)
            #expect(TestSupport.maxRelativeDifference(xIdx.map { Double(dX.storage[$0]) }, numX) < 2e-3, "dX \(mode) \(String(describing: merge)) \(position)")
            var checked = 0
            for (name, p) in layer.parameters where p.trainable {
                checked += 1
                let original = p.value
                let idx = TestSupport.sampleIndices(count: p.count)
                let num = try TestSupport.numericGradient(of: { v in
                    p.value = v
                    defer { p.value = original }
                    return bttLoss(try layer.forward(x, keepForBackward: false), c)
                }, at: original, indices: idx)
                #expect(TestSupport.maxRelativeDifference(idx.map { Double(p.gradient!.storage[$0]) }, num) < 2e-3,
                        "\(name) \(mode) \(String(describing: merge)) \(position)")
            }
            #expect(checked >= 2)
        }
    }

    @Test func trainableSidesFollowNumelTieBreaks() throws {
        // Tie: square 16×16 with 4×4 blocks of 4×4 ⇒ left = right ⇒ small and large both pick the left core.
        let tie = try BTTLayer(converting: TestSupport.random([16, 16], seed: 1), bias: nil,
                               options: BTTLayerOptions(decompMode: .square, sMergedTo: .split, trainPosition: .small))
        #expect(tie.geometry.leftCount == tie.geometry.rightCount)
        #expect(tie.left.trainable && !tie.right.trainable)
        tie.configureTrainability(trainPosition: .large, trainBias: true, trainSingularValues: false)
        #expect(tie.left.trainable && !tie.right.trainable)
        // output_one_block: the right core is small.
        let def = try BTTLayer(converting: TestSupport.random([24, 18], seed: 2), bias: TestSupport.random([24], seed: 3))
        #expect(def.right.trainable && !def.left.trainable && def.singular!.trainable && def.bias!.trainable)
        #expect(def.geometry.rightCount == 18 * 6 && def.singular!.count == 18)
        let large = try BTTLayer(converting: TestSupport.random([24, 18], seed: 2), bias: nil,
                                 options: BTTLayerOptions(sMergedTo: .keepFrozen, trainPosition: .large))
        #expect(large.left.trainable && !large.right.trainable && !large.singular!.trainable)
        let both = try BTTLayer(converting: TestSupport.random([24, 18], seed: 2), bias: nil,
                                options: BTTLayerOptions(sMergedTo: nil, trainPosition: .both))
        #expect(both.left.trainable && both.right.trainable && both.singular == nil)
    }

    @Test func mergeTargetsResolveAsTheSpecSays() throws {
        let g = try BTTGeometry.resolve(inFeatures: 18, outFeatures: 24, decompMode: .outputOneBlock, rank: .full)
        // output_one_block + small ⇒ right trains: frozen ⇒ output, trainable ⇒ input.
        #expect(try g.mergeTarget(.frozen, trainPosition: .small) == .output)
        #expect(try g.mergeTarget(.trainable, trainPosition: .small) == .input)
        #expect(try g.mergeTarget(.frozen, trainPosition: .large) == .input)
        #expect(try g.mergeTarget(nil, trainPosition: .small) == .output)
        #expect(try g.mergeTarget(nil, trainPosition: .both) == .split)
        #expect(try g.mergeTarget(.keepTrainable, trainPosition: .both) == .keepTrainable)
        #expect(throws: ConversionError.self) { try g.mergeTarget(.trainable, trainPosition: .both) }
        #expect(throws: ConversionError.self) { try g.mergeTarget(.keepFrozen, trainPosition: .small, convertMode: .qr) }
        #expect(try g.mergeTarget(.frozen, trainPosition: .small, convertMode: .qr) == MergeTarget.none)
        // S placement: with output, btt_l columns carry S (norm = s), btt_r rows stay unit.
        let w = TestSupport.random([24, 18], seed: 9)
        let merged = try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(sMergedTo: .frozen))
        let kept = try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(sMergedTo: .keepFrozen))
        for k in 0..<18 {
            var norm: Float = 0
            for p in 0..<24 { norm += merged.left.value.storage[k * 24 + p] * merged.left.value.storage[k * 24 + p] }
            #expect(abs(norm.squareRoot() - kept.singular!.value.storage[k]) < 1e-4)
        }
    }

    @Test func rankBeyondBlockSizePadsZeroSlotsAndTruncationIsOptimal() throws {
        let w = TestSupport.random([12, 18], seed: 21)
        let padded = try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(decompMode: .square, rank: .fixed(7)))
        #expect(padded.geometry.r == 7 && padded.geometry.usedRank == 4)
        #expect(try padded.denseWeight().relativeError(to: w) < 1e-5)
        #expect(padded.singular!.value[0, 0, 6] == 0 && padded.right.value[0, 0, 6] == 0)
        let truncated = try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(decompMode: .square, rank: .fixed(2)))
        let error = try truncated.denseWeight().relativeError(to: w)
        #expect(error > 1e-3 && error < 1)
    }

    @Test func materializedWeightReproducesOutputAfterUpdates() throws {
        for (mode, merge, position) in [(DecompMode.outputOneBlock, SMergedTo.keepTrainable, TrainPosition.small),
                                        (.square, .split, .both), (.inputOneBlock, .keepFrozen, .large)] {
            let layer = try BTTLayer(converting: TestSupport.random([20, 15], seed: 31), bias: TestSupport.random([20], seed: 32),
                                     options: BTTLayerOptions(decompMode: mode, sMergedTo: merge, trainPosition: position))
            var seed: UInt64 = 40
            for (_, p) in layer.parameters where p.trainable {
                seed += 1
                try p.value.add(TestSupport.random(p.value.shape, seed: seed, std: 0.1))
            }
            let x = TestSupport.random([6, 15], seed: 50)
            var expected = try Tensor.matmul(x, try layer.denseWeight(), transposeB: true)
            try expected.addRowVector(layer.bias!.value)
            #expect(try layer.forward(x, keepForBackward: false).relativeError(to: expected) < 1e-5)
        }
    }

    @Test func normalizeAfterUpdateGivesUnitVectors() throws {
        let layer = try BTTLayer(converting: TestSupport.random([12, 18], seed: 61), bias: nil,
                                 options: BTTLayerOptions(decompMode: .square, sMergedTo: .split, trainPosition: .both))
        layer.right.value = TestSupport.random(layer.right.value.shape, seed: 62)
        layer.left.value = TestSupport.random(layer.left.value.shape, seed: 63)
        layer.normalizeAfterUpdate()
        let g = layer.geometry
        for j in 0..<g.n {
            for c in 0..<(g.m * g.r) {
                var s: Float = 0
                for q in 0..<g.b { s += layer.right.value[j, q, c] * layer.right.value[j, q, c] }
                #expect(abs(s - 1) < 1e-5)
            }
        }
        for row in 0..<(g.n * g.r) {
            var s: Float = 0
            for p in 0..<g.a { s += layer.left.value[0, row, p] * layer.left.value[0, row, p] }
            #expect(abs(s - 1) < 1e-5)
        }
        // A frozen core is left alone.
        let def = try BTTLayer(converting: TestSupport.random([12, 18], seed: 64), bias: nil)
        let before = def.left.value
        def.normalizeAfterUpdate()
        #expect(def.left.value == before)
    }

    @Test func badInputGivesTypedErrors() throws {
        let w = TestSupport.random([12, 18], seed: 71)
        #expect(throws: ConversionError.factorizationMismatch(module: "BTTLayer", option: "input_factorization", blocks: 4, blockSize: 5, features: 18)) {
            try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(inputFactorization: FactorPair(4, 5)))
        }
        #expect(throws: ConversionError.self) {
            try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(sMergedTo: .keepTrainable, convertMode: .qr))
        }
        #expect(throws: ConversionError.self) {
            try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(sMergedTo: .frozen, trainPosition: .both))
        }
        var nan = w
        nan.storage[5] = .nan
        #expect(throws: ConversionError.nonFiniteWeight(module: "q", count: 1)) { try BTTLayer(converting: nan, bias: nil, module: "q") }
        #expect(throws: ConversionError.self) { try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(rank: .fixed(0))) }
        #expect(throws: ConversionError.self) { try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(rank: .fraction(1.5))) }
        #expect(throws: ConversionError.self) { try BTTRank(parsing: "half") }
        let layer = try BTTLayer(converting: w, bias: nil)
        #expect(throws: LayerError.self) { try layer.forward(Tensor.zeros([2, 17]), keepForBackward: false) }
        #expect(throws: LayerError.self) { try layer.backward(Tensor.zeros([2, 12])) }
    }
}

@Suite struct SVDWorkspaceTests {
    /// The reused column-major workspace (the fast path of block conversion) against `LAPACK.svd`, its simple twin.
    @Test func workspaceMatchesLAPACKSVD() throws {
        for (m, n) in [(40, 6), (6, 40), (17, 17), (64, 24)] {
            let a = TestSupport.random([m, n], seed: UInt64(m * 100 + n))
            let ws = try SVDWorkspace(rows: m, columns: n)
            for round in 0..<2 {
                try ws.factor { col in for r in 0..<m { for c in 0..<n { col[r + c * m] = Double(a[r, c]) } } }
                let ref = try LAPACK.svd(a, precision: .double)
                let k = min(m, n)
                for c in 0..<k {
                    #expect(abs(Float(ws.s[c]) - ref.s[c]) <= 1e-6 * ref.s[0], "s \(m)x\(n) round \(round)")
                    for r in 0..<m { #expect(abs(Float(ws.u[r + c * m]) - ref.u[r, c]) < 1e-6, "u \(m)x\(n)") }
                    for q in 0..<n { #expect(abs(Float(ws.vt[c + q * k]) - ref.vt[c, q]) < 1e-6, "vt \(m)x\(n)") }
                }
            }
        }
        let ws = try SVDWorkspace(rows: 3, columns: 2)
        #expect(throws: TensorError.self) { try ws.factor { $0[0] = .nan } }
    }

    @Test func doubleAndFloatConversionsAgree() throws {
        let w = TestSupport.random([30, 36], seed: 5)
        let d = try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(precision: .double))
        let f = try BTTLayer(converting: w, bias: nil, options: BTTLayerOptions(precision: .float))
        #expect(try d.right.value.relativeError(to: f.right.value) < 1e-4)
        #expect(try d.left.value.relativeError(to: f.left.value) < 1e-4)
        #expect(try f.denseWeight().relativeError(to: w) < 1e-5)
    }
}
