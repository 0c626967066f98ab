import FuRAModels
import FuRATensor

extension MultimodalLM {
    /// Greedy continuations of B prompts of one length T (ids with placeholder rows where `spliced` images go):
    /// prefill with the projected image rows, then one token at a time with the key/value cache. Each row stops after
    /// a token in `stop` (kept as the row's last token) or `maxNewTokens` tokens.
    public func greedy(ids: [[Int]], spliced: [SplicedRows], maxNewTokens: Int, stop: Set<Int>) throws -> [[Int]] {
        let batch = ids.count
        let prompt = try projected(TokenBatch(ids: ids, labels: ids, lengths: ids.map(\.count), spliced: spliced), keepForBackward: false)
        var cache: [KeyValue] = []
        var hidden = try language.forwardCached(ids: ids, cache: &cache, spliced: prompt.spliced)
        var time = ids.first?.count ?? 0
        var outputs = [[Int]](repeating: [], count: batch)
        var finished = [Bool](repeating: false, count: batch)
        let c = config.hiddenSize
        for _ in 0..<maxNewTokens {
            var last = Tensor.zeros([batch, c])
            for b in 0..<batch {
                let start = (b * time + time - 1) * c
                last.storage.replaceSubrange((b * c)..<((b + 1) * c), with: hidden.storage[start..<(start + c)])
            }
            let logits = try language.logits(hidden: last)
            let v = logits.shape[1]
            var next = [Int](repeating: 0, count: batch)
            for b in 0..<batch {
                var best = 0
                for j in 1..<v where logits.storage[b * v + j] > logits.storage[b * v + best] { best = j }
                next[b] = best
                if !finished[b] {
                    outputs[b].append(best)
                    if stop.contains(best) { finished[b] = true }
                }
            }
            if finished.allSatisfy({ $0 }) { break }
            hidden = try language.forwardCached(ids: next.map { [$0] }, cache: &cache)
            time = 1
        }
        return outputs
    }
}
