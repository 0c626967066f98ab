import Foundation
import FuRATestSupport
import Testing
@testable import FuRATensor

@Suite struct NF4Tests {
    /// Random data with blocks of very different scales, zero blocks and a ragged tail.
    static func sample(_ n: Int, seed: UInt64) -> Tensor {
        var t = TestSupport.random([n], seed: seed)
        for b in 0..<((n + 63) / 64) {
            let s: Float = b % 5 == 3 ? 0 : Float(1 + b % 7) * 0.03
            for i in (b * 64)..<min(n, b * 64 + 64) { t.storage[i] *= s }
        }
        return t
    }

    @Test func thresholdsAreTheMidpointsOfTheTable() {
        #expect(NF4.thresholds.count == 15)
        #expect(NF4.thresholds[7] == 0.03979014977812767)  // the root literal of the bnb tree
        #expect(NF4.thresholds[14] == 0.8614784181118011)
        #expect(NF4.thresholds[0] == -0.8480964004993439)
        for c in 0..<16 { #expect(NF4.code(normalized: NF4.levels[c]) == UInt8(c)) }
        // Exactly on a midpoint → the lower code; one ulp above → the upper.
        for k in 0..<15 {
            #expect(NF4.code(normalized: NF4.thresholds[k]) == UInt8(k))
            #expect(NF4.code(normalized: NF4.thresholds[k].nextUp) == UInt8(k + 1))
            #expect(NF4Reference.code(normalized: NF4.thresholds[k]) == UInt8(k))
        }
    }

    @Test func fastCodecMatchesScalarReferenceOnRandomData() throws {
        for n in [1, 63, 64, 65, 1000, 64 * 300 + 7] {
            let x = Self.sample(n, seed: UInt64(n))
            let q = try NF4.quantize(x, doubleQuantization: false)
            let ref = NF4Reference.quantize(x.storage)
            #expect(q.packed == NF4Reference.pack(ref.codes))
            #expect(q.scales == .plain(absmax: ref.absmax))
            for i in 0..<n where q.code(at: i) != ref.codes[i] { Issue.record("code \(i)"); break }
            // Every element's code is the nearest level (ties aside).
            for i in stride(from: 0, to: n, by: 3) where ref.absmax[i / 64] > 0 {
                let v = x.storage[i] * (1 / ref.absmax[i / 64])
                let best = NF4Reference.nearest(NF4.levels, v)
                #expect(abs(NF4.levels[best] - v) == abs(NF4.levels[Int(ref.codes[i])] - v))
            }
        }
    }

    @Test func roundTripErrorIsWithinHalfGapTimesAbsmax() throws {
        let x = Self.sample(64 * 40 + 13, seed: 9)
        let q = try NF4.quantize(x, doubleQuantization: false)
        let back = q.dequantized()
        let ref = NF4Reference.quantize(x.storage)
        #expect(back.storage == NF4Reference.dequantize(codes: ref.codes, absmax: ref.absmax))
        var worst: Float = 0
        for i in 0..<x.count {
            let err = abs(back.storage[i] - x.storage[i])
            let bound = ref.absmax[i / 64] * NF4.maximumHalfGap * (1 + 1e-6) + 1e-12
            #expect(err <= bound)
            worst = max(worst, err / max(ref.absmax[i / 64], 1e-30))
        }
        #expect(worst > 0.05)  // the bound is nearly attained: the check is not vacuous
    }

    @Test func dequantizeAnyRangeMatchesWhole() throws {
        let x = Self.sample(64 * 9 + 5, seed: 10)
        let q = try NF4.quantize(x, doubleQuantization: true)
        let whole = q.dequantized()
        for range in [0..<1, 1..<2, 3..<130, 63..<65, 64..<128, 100..<581, 0..<581] {
            var out = [Float](repeating: .nan, count: range.count)
            out.withUnsafeMutableBufferPointer { q.dequantize(elements: range, into: $0.baseAddress!) }
            #expect(out == Array(whole.storage[range]))
        }
    }

    @Test func doubleQuantizationRoundTripsWithinItsBound() throws {
        let x = Self.sample(64 * 600 + 30, seed: 11)
        let plain = try NF4.quantize(x, doubleQuantization: false)
        let dq = try NF4.quantize(x, doubleQuantization: true)
        #expect(dq.packed == plain.packed)
        guard case let .plain(absmax) = plain.scales, case let .doubleQuantized(d) = dq.scales else {
            Issue.record("wrong scales"); return
        }
        #expect(d.absmax2.count == (absmax.count + 255) / 256)
        let mean = absmax.reduce(0, +) / Float(absmax.count)
        #expect(abs(d.offset - mean) <= 1e-5 * mean)
        let back = d.dequantize(blocks: 0..<absmax.count)
        let map = DynamicMap.signed
        let halfGap = zip(map.dropFirst(), map).map { ($0 - $1) / 2 }.max()!
        for k in absmax.indices {
            // |error| ≤ absmax2 · (largest half-gap of the map) plus the rounding of the two float operations.
            let bound = d.absmax2[k / 256] * halfGap + 2e-7 * abs(absmax[k]) + 1e-12
            #expect(abs(back[k] - absmax[k]) <= bound)
        }
        // And the dequantized tensor stays within the NF4 bound computed with the double-quantized absmax.
        let xd = dq.dequantized()
        for i in stride(from: 0, to: x.count, by: 17) {
            let a = back[i / 64]
            let level = NF4.levels[Int(dq.code(at: i))]
            #expect(xd.storage[i] == level * a)
        }
        #expect(dq.byteCount < plain.byteCount)
    }

    @Test func dynamicMapIsSortedSignedAndMatchesTheSearch() {
        let map = DynamicMap.signed
        #expect(map.count == 256)
        #expect(zip(map, map.dropFirst()).allSatisfy { $0 < $1 })
        #expect(map.last == 1 && map.contains(0) && map.first! > -1)
        var rng = RNG(seed: 3)
        for _ in 0..<4000 {
            let v = rng.uniform(-1, 1) * (rng.uniform() < 0.3 ? 0.01 : 1)
            let c = Int(DynamicMap.search(map, v))
            let best = NF4Reference.nearest(map, v)
            #expect(abs(map[c] - v) == abs(map[best] - v))
        }
        for v in map { #expect(map[Int(DynamicMap.search(map, v))] == v) }
    }

    @Test func nonFiniteInputIsATypedError() {
        var x = TestSupport.random([3, 70], seed: 4)
        x.storage[100] = -.infinity
        #expect(throws: NF4Error.nonFinite(tensor: "w", index: 100, value: -.infinity)) {
            _ = try NF4.quantize(x, doubleQuantization: false, name: "w")
        }
        x.storage[100] = .nan
        #expect(throws: NF4Error.self) { _ = try NF4.quantize(x, doubleQuantization: true, name: "w") }
        #expect(throws: NF4Error.self) {
            _ = try NF4Tensor.validated(shape: [4, 4], packed: [0, 1], scales: .plain(absmax: [1]), name: "w")
        }
    }

    @Test func tiledProductsMatchDequantizeThenMatmul() throws {
        let (n, o, i) = (9, 37, 70)
        let w = TestSupport.random([o, i], seed: 5)
        let q = try NF4.quantize(w, doubleQuantization: true)
        let wHat = q.dequantized()
        let x = TestSupport.random([n, i], seed: 6)
        let dY = TestSupport.random([n, o], seed: 7)
        // A tiny tile budget forces many tiles (ragged last tile and blocks crossing rows).
        let tiled = try q.rowTiled(tileElements: 3 * i)
        #expect(tiled.tileRows == 3)
        var y = Tensor.zeros([0, 0]), dX = Tensor.zeros([0, 0])
        try tiled.multiplyTransposed(x, into: &y)
        try tiled.multiply(dY, into: &dX)
        #expect(try y.relativeError(to: Tensor.matmul(x, wHat, transposeB: true)) < 1e-6)
        #expect(try dX.relativeError(to: Tensor.matmul(dY, wHat)) < 1e-6)
        #expect(try q.multiplyTransposed(x).relativeError(to: y) < 1e-6)
        #expect(try q.multiply(dY).relativeError(to: dX) < 1e-6)
        #expect(tiled.dense() == wHat)
        #expect(throws: TensorError.self) { _ = try q.multiplyTransposed(dY) }
    }

    // MARK: bitsandbytes fixture

    struct Fixture: Decodable {
        struct Case: Decodable {
            var count: Int
            var double_quant: Bool
            var packed_hex: String
            var absmax: [Float]?
            var absmax_codes_hex: String?
            var absmax2: [Float]?
            var offset: Float?
            var dequantized_head: [Float]
        }
        var dynamic_map: [Float]
        var cases: [Case]
    }

    /// The fixture's input recipe (see scripts/fixtures/make_nf4_fixture.py), in exact Float arithmetic.
    static func fixtureInput(_ n: Int) -> [Float] {
        var state: UInt64 = 12345
        var x = [Float](repeating: 0, count: n)
        for i in 0..<n {
            state = (state &* 1_664_525 &+ 1_013_904_223) % (1 << 32)
            let u = Float(Int(state >> 8) - (1 << 23)) / Float(1 << 23)
            x[i] = u * (Float(1 + ((i / 64) * 5) % 13) / 8)
        }
        var tie = [Float](repeating: 0, count: 64)
        tie[0] = 1
        for k in 0..<15 {
            let midpoint = (NF4.levels[k] + NF4.levels[k + 1]) / 2  // numpy float32 arithmetic, as the script
            tie[1 + k] = midpoint
            tie[16 + k] = -midpoint
        }
        x.replaceSubrange(64..<128, with: tie)
        return x
    }

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    @Test func matchesBitsandbytesFixture() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/nf4_bnb.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        #expect(DynamicMap.signed == fixture.dynamic_map)
        for c in fixture.cases {
            let x = try Tensor(shape: [c.count], data: Self.fixtureInput(c.count))
            let q = try NF4.quantize(x, doubleQuantization: c.double_quant)
            // bnb's CPU backend buckets with midpoints rounded from their exact value; the CUDA kernel (which
            // we follow) uses decimal literals, and four of those read as a neighbouring float. A value exactly
            // between the two (the fixture's tie block has three) gets a different code from each.
            let packed = Self.bytes(hex: c.packed_hex)
            let exactMidpoints = (0..<15).map { Float((Double(NF4.levels[$0]) + Double(NF4.levels[$0 + 1])) / 2) }
            let plainAbsmax = NF4Reference.quantize(x.storage).absmax
            var disagreements = Set<Int>()
            for i in 0..<c.count {
                let theirs = i & 1 == 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 0x0F
                let a = plainAbsmax[i / 64], v = x.storage[i] * (a > 0 ? 1 / a : 0)
                let cpuRule = UInt8(exactMidpoints.filter { v > $0 }.count)
                let cudaRule = UInt8(NF4.thresholds.filter { v > $0 }.count)
                #expect(theirs == cpuRule, "CPU backend rule, element \(i)")
                #expect(q.code(at: i) == cudaRule, "code of element \(i), n = \(c.count)")
                if cpuRule != cudaRule { disagreements.insert(i) }
            }
            #expect(disagreements.count == 3, "the tie block holds three values between the two rules")
            let head = Array(q.dequantized().storage.prefix(c.dequantized_head.count))
            for (i, (a, b)) in zip(head, c.dequantized_head).enumerated() where !disagreements.contains(i) {
                #expect(abs(a - b) <= 1e-6 * max(1, abs(b)))
            }
            switch q.scales {
            case let .plain(absmax):
                #expect(absmax == c.absmax)
            case let .doubleQuantized(d):
                #expect(d.codes == Self.bytes(hex: c.absmax_codes_hex ?? ""), "absmax codes, n = \(c.count)")
                // torch's float32 mean and ours (in Double) may differ in the last bit; absmax2 follows it.
                let theirs2 = c.absmax2 ?? []
                #expect(d.absmax2.count == theirs2.count)
                for (a, b) in zip(d.absmax2, theirs2) { #expect(abs(a - b) <= 4e-7 * b) }
                #expect(abs(d.offset - (c.offset ?? .nan)) <= 2 * d.offset.ulp)
            }
        }
    }
}
