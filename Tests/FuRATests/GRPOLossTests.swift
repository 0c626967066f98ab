import Foundation
import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
import FuRATrain
import Testing

@Suite struct GRPOLossTests {
    // Two groups of four: one with mixed rewards, one where every completion earned 1.
    let rewards: [Double] = [1, 0, 0, 1, 1, 1, 1, 1]

    @Test func advantagesWithoutScalingAreRewardMinusGroupMean() throws {
        let a = try GRPOAdvantages(rewards: rewards, groupSize: 4, scaling: .none)
        #expect(a.advantages == [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0])
        #expect(a.meanReward == 0.75)
        #expect(a.fractionZeroStd == 0.5)
        #expect(abs(a.rewardStd - (1.0 / 3).squareRoot() / 2) < 1e-12)
    }

    @Test func advantagesScaledByGroupAndBatchStd() throws {
        let group = try GRPOAdvantages(rewards: rewards, groupSize: 4, scaling: .group)
        let s = (1.0 / 3).squareRoot()  // unbiased std of [1, 0, 0, 1]
        #expect(abs(group.advantages[0] - 0.5 / (s + 1e-4)) < 1e-12)
        #expect(abs(group.advantages[1] + 0.5 / (s + 1e-4)) < 1e-12)
        #expect(group.advantages[4] == 0)
        let batch = try GRPOAdvantages(rewards: rewards, groupSize: 4, scaling: .batch)
        let sb = (1.5 / 7).squareRoot()  // mean 0.75: 6·0.0625 + 2·0.5625 = 1.5 over n−1 = 7
        #expect(abs(batch.advantages[0] - 0.5 / (sb + 1e-4)) < 1e-12)
        #expect(abs(batch.rewardStd - sb) < 1e-12)
        #expect(batch.fractionZeroStd == 0)
    }

    @Test func advantagesRejectARaggedBatch() {
        #expect(throws: TrainingError.self) { try GRPOAdvantages(rewards: [1, 0, 1], groupSize: 2, scaling: .none) }
        #expect(throws: TrainingError.self) { try GRPOAdvantages(rewards: [], groupSize: 2, scaling: .none) }
    }

    @Test func referenceTokenLossIsMinusRatioTimesAdvantage() {
        let t = GRPOLoss(kind: .reference).token(logProbability: -1, old: -1.1, reference: nil, advantage: 0.5)
        #expect(abs(t.loss + exp(0.1) * 0.5) < 1e-12)
        #expect(abs(t.dLogProbability + exp(0.1) * 0.5) < 1e-12)
    }

    @Test func clippedTokenLossMatchesHandValues() {
        let loss = GRPOLoss(kind: .grpo, epsilon: 0.2)
        // r = 1.3, A > 0: the clipped term 1.2·A is smaller → no gradient, high-clipped.
        let high = loss.token(logProbability: log(1.3), old: 0, reference: nil, advantage: 0.5)
        #expect(abs(high.loss + 0.6) < 1e-12 && high.dLogProbability == 0 && high.highClipped && !high.lowClipped)
        // r = 1.3, A < 0: the unclipped term is smaller → gradient −r·A.
        let pushed = loss.token(logProbability: log(1.3), old: 0, reference: nil, advantage: -0.5)
        #expect(abs(pushed.loss - 0.65) < 1e-12 && abs(pushed.dLogProbability - 0.65) < 1e-12 && !pushed.highClipped)
        // r = 0.7, A < 0: clipped at 0.8 → no gradient, low-clipped.
        let low = loss.token(logProbability: log(0.7), old: 0, reference: nil, advantage: -0.5)
        #expect(abs(low.loss - 0.4) < 1e-12 && low.dLogProbability == 0 && low.lowClipped)
        // An asymmetric ε_high = 0.28 keeps r = 1.25 inside.
        let wide = GRPOLoss(kind: .grpo, epsilon: 0.2, epsilonHigh: 0.28).token(logProbability: log(1.25), old: 0, reference: nil, advantage: 1)
        #expect(abs(wide.loss + 1.25) < 1e-12 && abs(wide.dLogProbability + 1.25) < 1e-12 && !wide.highClipped)
    }

    @Test func klTermIsK3WithItsDerivative() {
        let t = GRPOLoss(kind: .grpo, beta: 0.1).token(logProbability: -1, old: -1, reference: -1.2, advantage: 0)
        let kl = exp(-0.2) + 0.2 - 1
        #expect(abs(t.kl - kl) < 1e-12)
        #expect(abs(t.loss - 0.1 * kl) < 1e-12)
        #expect(abs(t.dLogProbability - 0.1 * (1 - exp(-0.2))) < 1e-12)
        #expect(throws: TrainingError.self) { try GRPOLoss(kind: .reference, beta: 0.1).validate() }
    }

    @Test(arguments: [GRPOLoss(kind: .reference), GRPOLoss(kind: .grpo, epsilon: 0.2, epsilonHigh: 0.3, beta: 0.05)])
    func batchGradientMatchesFiniteDifferences(loss: GRPOLoss) {
        var rng = RNG(seed: 11)
        let lengths = [3, 1, 4]
        let lp = lengths.map { (0..<$0).map { _ in -1 - Double(rng.uniform()) } }
        // Ratios spread over [0.5, 1.6] but away from the clip boundaries 0.8 and 1.3.
        let offsets = [[0.3, -0.05, 0.6], [0.1], [-0.4, 0.0, 0.45, -0.6]]
        let old = zip(lp, offsets).map { zip($0, $1).map { $0 - $1 } }
        let reference = lp.map { $0.map { $0 - 0.3 } }
        let advantages = [0.7, -1.2, 0.4]
        let (_, gradient) = loss.loss(logProbabilities: lp, old: old, reference: reference, advantages: advantages)
        for s in lp.indices {
            for t in lp[s].indices {
                var plus = lp, minus = lp
                plus[s][t] += 1e-6
                minus[s][t] -= 1e-6
                let numeric = (loss.loss(logProbabilities: plus, old: old, reference: reference, advantages: advantages).loss
                    - loss.loss(logProbabilities: minus, old: old, reference: reference, advantages: advantages).loss) / 2e-6
                #expect(abs(numeric - gradient[s][t]) < 1e-7, "s \(s) t \(t)")
            }
        }
        // The first completion has 3 tokens of 3 completions: each token weighs 1/9.
        #expect(GRPOLoss.tokenWeight(tokens: 3, sequences: 3) == 1.0 / 9)
    }

    @Test func modelPolicyGradientMatchesFiniteDifferences() throws {
        let config = ModelConfig(hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1, numAttentionHeads: 4, numKeyValueHeads: 2,
                                 vocabSize: 19, rmsNormEps: 1e-5, ropeTheta: 100, maxPositionEmbeddings: 32, tieWordEmbeddings: false)
        let model = try CausalLM.random(config: config, seed: 5)
        for (_, p) in model.namedParameters { p.trainable = true }
        // Prompt tokens take no loss; the completions are the labelled positions.
        let batch = TokenBatch(ids: [[1, 4, 7, 2, 9, 3], [5, 6, 8, 11, 0, 0]],
                               labels: [[-100, -100, 2, 9, 3, 12], [-100, 8, 11, 17, -100, -100]], lengths: [6, 4])
        let temperature: Float = 0.7
        let loss = GRPOLoss(kind: .grpo, epsilon: 0.2, beta: 0.04)
        let advantages = [0.8, -0.6]
        let start = try model.labelLogProbabilities(batch, temperature: temperature)
        // Old policy a little away from the current one, one token far away (clipped), reference further.
        let old = start.enumerated().map { s, row in row.enumerated().map { t, lp in Double(lp) - 0.03 * Double((s + t) % 3 - 1) } }
        var oldShifted = old
        oldShifted[0][3] = Double(start[0][3]) - log(2.0)
        let reference = start.map { $0.map { Double($0) - 0.2 } }
        let positions = batch.labels.map { row in row.indices.filter { row[$0] != TokenBatch.ignoreIndex } }
        func batchLoss(_ logProbabilities: [[Float]]) -> (loss: Double, gradient: [[Double]]) {
            loss.loss(logProbabilities: positions.enumerated().map { s, ts in ts.map { Double(logProbabilities[s][$0]) } },
                      old: positions.enumerated().map { s, ts in ts.map { oldShifted[s][$0] } },
                      reference: positions.enumerated().map { s, ts in ts.map { reference[s][$0] } }, advantages: advantages)
        }
        let coefficients = batchLoss(start).gradient
        let seen = try model.accumulateLogProbabilityGradient(batch, temperature: temperature) { s, t, _ in
            Float(coefficients[s][positions[s].firstIndex(of: t)!])
        }
        #expect(zip(seen.joined(), start.joined()).allSatisfy { abs($0 - $1) < 1e-5 })
        for (name, p) in model.namedParameters where !name.contains("embed") {
            let indices = TestSupport.sampleIndices(count: p.count, maximum: 3)
            let numeric = try TestSupport.numericGradient(indices: indices, read: { p.value.storage[$0] }, write: { p.value.storage[$0] = $1 }) {
                batchLoss(try model.labelLogProbabilities(batch, temperature: temperature)).loss
            }
            let analytic = indices.map { Double(p.gradient!.storage[$0]) }
            let scale = max(1e-3, numeric.map(abs).max() ?? 0)
            let gap = zip(analytic, numeric).map { abs($0 - $1) }.max()! / scale
            #expect(gap < 3e-2, "\(name): analytic \(analytic) numeric \(numeric)")
        }
    }
}
