import Foundation
import FuRAModels
import FuRATensor

// Legend: G questions of one call, K candidates of a question, N packed rows of one engine step,
// R scored rows, C model dim, V vocabulary.

/// Log-likelihood scoring of many questions in packed steps of the generation engine.
///
/// - Each question's prompt plus its candidates' shared leading tokens ("the correct answer is")
///   is one slot of a `KVCache`; the leading tokens common to all questions of the call (the
///   prompt template) run once and are copied to every slot; the rest of every prompt runs in one
///   packed step.
/// - Candidates' differing tails run in rounds (candidate j of every question in round j), each
///   round on top of its question's prompt: the slot is cut back to the prompt between rounds.
/// - The LM head runs only on the rows that are scored (those predicting a candidate token).
public final class PackedModelScorer: PrefixScorer {
    public let engine: GenerationModel

    public init(engine: GenerationModel) { self.engine = engine }

    public convenience init(model: CausalLM) throws { self.init(engine: try GenerationModel(model: model)) }

    public func continuationLogLikelihoods(context: [Int], continuations: [[Int]]) throws -> [Double] {
        try continuationLogLikelihoods(groups: [ScoringGroup(context: context, continuations: continuations)])[0]
    }

    /// The summed log-probability of every candidate of every group (same order).
    public func continuationLogLikelihoods(groups: [ScoringGroup]) throws -> [[Double]] {
        guard !groups.isEmpty else { return [] }
        let plans = try groups.map(Plan.init)
        let cache = try engine.makeCache(slots: plans.count, capacity: plans.map(\.capacity).max() ?? 1)
        var scored = ScoredRows(width: engine.model.config.hiddenSize)

        // The template shared by every prompt, once, then copied; every scored row stays after it.
        let common = Self.commonPrefixLength(plans.map(\.prefix), limit: plans.map { $0.prefix.count - 1 - $0.shared }.min() ?? 0)
        if common > 0 {
            _ = try engine.forward(cache: cache, slots: [0], tokens: [Array(plans[0].prefix.prefix(common))])
            for g in 1..<plans.count { cache.copySlot(from: 0, to: g) }
        }
        let hidden = try engine.forward(cache: cache, slots: Array(plans.indices), tokens: plans.map { Array($0.prefix.dropFirst(common)) },
                                        allPositions: true)
        var offset = 0
        for (g, plan) in plans.enumerated() {
            let own = plan.prefix.count - common
            // Rows predicting the shared tokens count for every candidate; the last row predicts each first own token.
            for t in 0..<plan.shared {
                scored.add(hidden, row: offset + own - 1 - plan.shared + t, terms: [(g, nil, plan.continuations[0][t])])
            }
            scored.add(hidden, row: offset + own - 1, terms: plan.tails.indices.map { (g, $0, plan.tails[$0][0]) })
            offset += own
        }

        // Tails longer than one token, candidate j of every question in round j.
        for j in 0..<(plans.map(\.tails.count).max() ?? 0) {
            let members = plans.indices.filter { j < plans[$0].tails.count && plans[$0].tails[j].count > 1 }
            guard !members.isEmpty else { continue }
            for g in members { cache.lengths[g] = plans[g].prefix.count }
            let inputs = members.map { Array(plans[$0].tails[j].dropLast()) }
            let rows = try engine.forward(cache: cache, slots: members, tokens: inputs, allPositions: true)
            var r = 0
            for g in members {
                for t in 1..<plans[g].tails[j].count {
                    scored.add(rows, row: r, terms: [(g, j, plans[g].tails[j][t])])
                    r += 1
                }
            }
        }

        let logits = try engine.model.logits(hidden: try Tensor(shape: [scored.count, scored.width], data: scored.hidden))
        let logZ = Self.logSumExpRows(logits)
        let v = engine.model.config.vocabSize
        var sums = plans.map { [Double](repeating: 0, count: $0.tails.count) }
        for (r, terms) in scored.terms.enumerated() {
            for term in terms {
                let lp = Double(logits.storage[r * v + term.label]) - logZ[r]
                if let c = term.candidate { sums[term.group][c] += lp } else {
                    for c in sums[term.group].indices { sums[term.group][c] += lp }
                }
            }
        }
        return sums
    }

    /// Length of the longest token prefix shared by every sequence, at most `limit`.
    static func commonPrefixLength(_ sequences: [[Int]], limit: Int) -> Int {
        guard let first = sequences.first, sequences.count > 1 else { return 0 }
        var n = 0
        while n < limit && n < first.count && sequences.allSatisfy({ n < $0.count && $0[n] == first[n] }) { n += 1 }
        return n
    }

    /// `log Σ exp(logits[r])` of every row of logits (R, V), in Double, rows split over threads.
    static func logSumExpRows(_ logits: Tensor) -> [Double] {
        let v = logits.shape.last ?? 1, rows = logits.count / max(1, v)
        var out = [Double](repeating: 0, count: rows)
        logits.withUnsafeBufferPointer { pl in out.withUnsafeMutableBufferPointer { po in
            Threading.parallelFor(rows, minimumPerChunk: 8) { start, end in
                for r in start..<end {
                    let row = pl.baseAddress! + r * v
                    let m = Kernels.max(row, v)
                    var z = 0.0
                    for j in 0..<v { z += Double(Foundation.exp(row[j] - m)) }
                    po[r] = Double(m) + Foundation.log(z)
                }
            }
        } }
        return out
    }

    /// One question's prompt with the candidates' shared leading tokens, and the differing tails.
    struct Plan {
        var continuations: [[Int]]
        /// Candidate tokens shared by all candidates (at least one own token is left to each).
        var shared: Int
        /// The prompt and the shared tokens: (P,).
        var prefix: [Int]
        /// Each candidate's tokens after the shared ones (non-empty).
        var tails: [[Int]]
        /// Positions the question's slot needs.
        var capacity: Int { prefix.count + (tails.map(\.count).max() ?? 1) - 1 }

        init(_ group: ScoringGroup) throws {
            guard !group.context.isEmpty, !group.continuations.isEmpty, group.continuations.allSatisfy({ !$0.isEmpty }) else {
                throw EvalRunError.invalidOption(name: "prefix scoring", value: "an empty prompt or candidate", expected: "non-empty token lists")
            }
            continuations = group.continuations
            let shortest = group.continuations.map(\.count).min() ?? 0
            var n = 0
            while n < shortest - 1 && group.continuations.allSatisfy({ $0[n] == group.continuations[0][n] }) { n += 1 }
            shared = n
            prefix = group.context + group.continuations[0].prefix(n)
            tails = group.continuations.map { Array($0.dropFirst(n)) }
        }
    }

    /// Hidden rows (R, C) gathered for the LM head, each with the (group, candidate or all, label) it scores.
    struct ScoredRows {
        let width: Int
        var hidden: [Float] = []
        var terms: [[(group: Int, candidate: Int?, label: Int)]] = []
        var count: Int { terms.count }

        init(width: Int) { self.width = width }

        mutating func add(_ source: Tensor, row: Int, terms rowTerms: [(group: Int, candidate: Int?, label: Int)]) {
            hidden += source.storage[(row * width)..<((row + 1) * width)]
            terms.append(rowTerms)
        }
    }
}
