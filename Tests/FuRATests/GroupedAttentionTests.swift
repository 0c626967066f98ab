import FuRATensor
import Testing

/// The decode-attention kernels against their plain twins, for every group size, partial blocks, shared prefixes
/// and both storage types.
@Suite struct GroupedAttentionTests {
    static func check<E: SIMD16Loadable>(_: E.Type, group: Int, n: Int, split: Int) {
        let d = 32, capacity = (n + 15) / 16 * 16
        var rng = RNG(seed: UInt64(group * 1000 + n * 10 + split))
        func elements(_ count: Int) -> [E] { (0..<count).map { _ in E(rng.normal()) } }
        let q = (0..<(group * d)).map { _ in rng.normal() }
        let keys = elements(capacity * d), sharedKeys = elements(capacity * d)
        let valueStride = capacity * 16
        let values = elements(valueStride * d / 16), sharedValues = elements(valueStride * d / 16)
        var fast = [Float](repeating: 0, count: group * n), slow = fast
        var probabilities = (0..<(group * n)).map { _ in rng.uniform() }
        var out = [Float](repeating: 0, count: group * d), outReference = out
        q.withUnsafeBufferPointer { pq in keys.withUnsafeBufferPointer { pk in sharedKeys.withUnsafeBufferPointer { psk in
            values.withUnsafeBufferPointer { pv in sharedValues.withUnsafeBufferPointer { psv in
                let (qq, k, sk, v, sv) = (pq.baseAddress!, pk.baseAddress!, psk.baseAddress!, pv.baseAddress!, psv.baseAddress!)
                GroupedAttention.scores(q: qq, group: group, d: d, n: n, split: split, keys: k, sharedKeys: sk, scale: 0.3, into: &fast)
                GroupedAttention.scoresReference(q: qq, group: group, d: d, n: n, split: split, keys: k, sharedKeys: sk, scale: 0.3, into: &slow)
                GroupedAttention.weightedValues(scores: &probabilities, group: group, d: d, n: n, split: split, values: v,
                                                sharedValues: sv, valueStride: valueStride, into: &out)
                GroupedAttention.weightedValuesReference(scores: &probabilities, group: group, d: d, n: n, split: split, values: v,
                                                         sharedValues: sv, valueStride: valueStride, into: &outReference)
            } }
        } } }
        let scoreGap = zip(fast, slow).map { abs($0 - $1) }.max() ?? 1
        let outGap = zip(out, outReference).map { abs($0 - $1) }.max() ?? 1
        #expect(scoreGap < 1e-4 && outGap < 1e-4, "\(E.self) group \(group) n \(n) split \(split): \(scoreGap), \(outGap)")
        #expect(slow.contains { $0 != 0 } && outReference.contains { $0 != 0 })
    }

    @Test(arguments: [1, 2, 3, 8])
    func kernelsMatchTheirTwins(group: Int) {
        for (n, split) in [(1, 0), (15, 0), (16, 16), (33, 16), (70, 32), (70, 64)] {
            Self.check(Float.self, group: group, n: n, split: split)
            Self.check(Float16.self, group: group, n: n, split: split)
        }
    }
}
