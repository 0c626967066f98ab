import Foundation
import FuRAModels
import FuRATensor
import FuRATestSupport
import Testing

@Suite struct SamplerTests {
    /// The distribution HF's processors leave, written plainly in Double: penalty, temperature,
    /// top-k, top-p (sorted ascending, drop cumulative ≤ 1 − p, keep one), min-p; nil where removed.
    static func reference(_ logits: [Float], seen: Set<Int>, _ o: SamplingOptions) -> [Double?] {
        var l = logits.map(Double.init)
        let r = Double(o.repetitionPenalty)
        for id in seen { l[id] = l[id] > 0 ? l[id] / r : l[id] * r }
        l = l.map { $0 / Double(o.temperature) }
        var alive = [Bool](repeating: true, count: l.count)
        func probabilities() -> [Double] {
            let m = zip(l, alive).filter(\.1).map(\.0).max()!
            let e = l.indices.map { alive[$0] ? exp(l[$0] - m) : 0 }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        if o.topK > 0 {
            let order = l.indices.sorted { l[$0] != l[$1] ? l[$0] > l[$1] : $0 < $1 }
            for id in order.dropFirst(o.topK) { alive[id] = false }
        }
        if o.topP < 1 {
            let p = probabilities()
            let ascending = l.indices.filter { alive[$0] }.sorted { p[$0] != p[$1] ? p[$0] < p[$1] : $0 > $1 }
            var cumulative = 0.0
            for (i, id) in ascending.enumerated() {
                cumulative += p[id]
                if cumulative <= 1 - Double(o.topP) && i < ascending.count - 1 { alive[id] = false }
            }
        }
        if o.minP > 0 {
            let p = probabilities()
            let top = p.max()!
            for id in l.indices where p[id] < Double(o.minP) * top { alive[id] = false }
        }
        let p = probabilities()
        return l.indices.map { alive[$0] ? p[$0] : nil }
    }

    static let logits: [Float] = (0..<40).map { i in Float(sin(Double(i) * 1.7) * 3 + Double(i % 5) * 0.3) }

    @Test(arguments: [
        SamplingOptions(temperature: 1),
        SamplingOptions(temperature: 0.7, topK: 5),
        SamplingOptions(temperature: 1.3, topP: 0.8),
        SamplingOptions(temperature: 1, topK: 12, topP: 0.6),
        SamplingOptions(temperature: 0.9, minP: 0.2, repetitionPenalty: 1.5),
        SamplingOptions(temperature: 1, topK: 20, topP: 0.9, minP: 0.05, repetitionPenalty: 0.8),
    ])
    func drawsFromTheReferenceDistribution(options: SamplingOptions) throws {
        let seen: Set<Int> = [0, 3, 17, 31]
        let expected = Self.reference(Self.logits, seen: seen, options)
        var sampler = try Sampler(options: options)
        var rng = RNG(seed: 9)
        var counts = [Int](repeating: 0, count: Self.logits.count)
        let draws = 4000
        let m = Self.logits.max()!
        let logZ = m + log(Self.logits.reduce(0) { $0 + exp($1 - m) })
        for _ in 0..<draws {
            let pick = Self.logits.withUnsafeBufferPointer { sampler.choose(logits: $0, seen: seen, rng: &rng) }
            counts[pick.token] += 1
            // Chosen tokens are kept ones, with the reference's processed and raw log-probabilities.
            let p = try #require(expected[pick.token])
            #expect(abs(Double(pick.processedLogProb) - log(p)) < 1e-4)
            #expect(abs(pick.logProb - (Self.logits[pick.token] - logZ)) < 1e-4)
        }
        for (id, p) in expected.enumerated() {
            let f = Double(counts[id]) / Double(draws)
            #expect(abs(f - (p ?? 0)) < 4 * ((p ?? 0) * (1 - (p ?? 0)) / Double(draws)).squareRoot() + 0.005, "token \(id)")
        }
    }

    @Test func greedyTakesTheArgmaxOfPenalizedLogits() throws {
        var sampler = try Sampler(options: .greedy)
        var rng = RNG(seed: 1)
        let top = Self.logits.indices.max { Self.logits[$0] < Self.logits[$1] }!
        let plain = Self.logits.withUnsafeBufferPointer { sampler.choose(logits: $0, seen: [], rng: &rng) }
        #expect(plain.token == top)
        var penalized = try Sampler(options: SamplingOptions(temperature: 0, repetitionPenalty: 100))
        let p = Self.logits.withUnsafeBufferPointer { penalized.choose(logits: $0, seen: [top], rng: &rng) }
        let reference = Self.reference(Self.logits, seen: [top], SamplingOptions(temperature: 1, repetitionPenalty: 100))
        let best = reference.indices.max { reference[$0]! < reference[$1]! }!
        #expect(p.token == best && p.token != top)
        #expect(abs(Double(p.processedLogProb) - log(reference[best]!)) < 1e-4)
    }

    @Test func sameSeedSameDraws() throws {
        var a = try Sampler(options: SamplingOptions(temperature: 1, topP: 0.9))
        var b = a
        var ra = RNG(seed: 5), rb = RNG(seed: 5)
        let x = (0..<50).map { _ in Self.logits.withUnsafeBufferPointer { a.choose(logits: $0, seen: [], rng: &ra).token } }
        let y = (0..<50).map { _ in Self.logits.withUnsafeBufferPointer { b.choose(logits: $0, seen: [], rng: &rb).token } }
        #expect(x == y)
        #expect(Set(x).count > 1)
    }

    @Test func invalidOptionsThrow() {
        for o in [SamplingOptions(temperature: -1), SamplingOptions(topK: -2), SamplingOptions(topP: 0), SamplingOptions(topP: 1.5),
                  SamplingOptions(minP: 2), SamplingOptions(repetitionPenalty: 0)] {
            #expect(throws: GenerationError.self) { try Sampler(options: o) }
        }
    }
}
