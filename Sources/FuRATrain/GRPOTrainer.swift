import Foundation
import FuRAModels
import FuRANN
import FuRATensor

/// How text and ids meet for GRPO: the prompt of a problem, the text of a completion, the ids that end
/// a completion and pad a batch.
public struct GRPOCodec {
    /// The full prompt text and its ids (≥ 1 id).
    public var prompt: (RewardExample) throws -> (text: String, ids: [Int])
    /// The text of completion ids (stop ids excluded by the caller).
    public var decode: ([Int]) -> String
    public var stopIds: Set<Int>
    public var padId: Int

    public init(prompt: @escaping (RewardExample) throws -> (text: String, ids: [Int]), decode: @escaping ([Int]) -> String,
                stopIds: Set<Int>, padId: Int) {
        self.prompt = prompt; self.decode = decode; self.stopIds = stopIds; self.padId = padId
    }
}

/// One GRPO step (Docs/tracks.md §7 with TRL's clipped variant), run by `TrainingLoop`: sample prompts (a pure function of
/// seed and step), roll out G completions each, reward them, compute group advantages, then `epochsPerStep` passes
/// over the completions in micro-batches, each pass one clipped AdamW update.
///
/// Rollouts go through the shared generation engine (`GRPORollout` over `Generator`) on a dense copy of
/// the policy. Old log-probabilities are the sampling-time log-probabilities of the chosen tokens under
/// `logits / temperature` (equal to the training forward's up to float rounding, so the first pass's
/// ratio is 1 within ~1e-5, as the reference's recomputed one is exactly); with top-p < 1 the sampled
/// distribution is truncated, and the first pass's own log-probabilities are used instead. Later passes
/// (`epochsPerStep` > 1) reuse them. Completions whose advantage is 0 have zero gradient when β = 0 and
/// are skipped.
///
/// Over several processes (`collective`), each samples whole groups of the step's prompts (sequence i draws from its
/// generator i whichever process samples it), all completions are gathered in order and every process computes
/// every reward and advantage; the micro-batches of each pass are shared out through `MicroBatchWindow`. Old
/// log-probabilities are then the first pass's own (as with top-p < 1). The run equals one process's with the same
/// flags bit for bit when that one also takes the first pass's own (top-p < 1, or a bf16/q8/f16-cache rollout engine),
/// and to float rounding of the first pass's ratio otherwise — as long as no draw falls within the last bit of a
/// logit (the engine's logits can differ in the last bit with the rows decoded together).
///
/// Reference policy (β > 0): the initial values of the trainable tensors are kept and swapped in for one
/// no-grad forward per step. Every method's initial state is its base model (BTT is lossless, LoRA's B is
/// 0, DoRA's magnitude is ‖W‖), so this is "the adapter disabled" with no second copy of the frozen weights.
public final class GRPOStep: TrainingStep {
    public let model: CausalLM
    public let options: GRPOOptions
    public let trainExamples: [RewardExample]
    public let evalExamples: [RewardExample]
    public let rewards: WeightedRewards
    /// The held-out accuracy reward (1 correct, 0 wrong).
    public let accuracy: any RewardFunction
    public let codec: GRPOCodec
    /// The processes the step is shared over: each samples its share of the prompts (whole groups) and runs its
    /// share of the micro-batches; every one gathers all completions and computes every reward and advantage.
    public let collective: any Collective
    private var promptCache: [Int: (text: String, ids: [Int])] = [:]
    private var initialValues: [String: Tensor] = [:]
    /// Built on the first rollout, refreshed in place after each update.
    private lazy var rollouts = GRPORolloutEngine(policy: model, precision: options.rolloutPrecision)

    public init(model: CausalLM, options: GRPOOptions, trainExamples: [RewardExample], evalExamples: [RewardExample],
                rewards: WeightedRewards, accuracy: any RewardFunction, codec: GRPOCodec,
                collective: any Collective = SingleProcess()) throws {
        try options.validate()
        guard !trainExamples.isEmpty else {
            throw TrainingError.emptyData(path: "training data", reason: "no problem to sample prompts from")
        }
        self.model = model; self.options = options; self.trainExamples = trainExamples; self.evalExamples = evalExamples
        self.rewards = rewards; self.accuracy = accuracy; self.codec = codec; self.collective = collective
        if options.loss.needsReference {
            for (name, p) in trainableParameters { initialValues[name] = p.value }
        }
    }

    public var trainableParameters: [(name: String, parameter: Parameter)] {
        model.namedParameters.filter { $0.parameter.trainable }
    }

    /// The constant schedule of a GRPO run (recorded in checkpoints).
    public static func schedule(_ options: GRPOOptions) -> LearningRateSchedule {
        LearningRateSchedule(kind: .constant, peakLearningRate: options.learningRate, warmup: .steps(0), totalSteps: options.steps)
    }

    public func initialEvaluation() throws -> GRPOEvent? {
        guard !evalExamples.isEmpty, options.evalLimit > 0 else { return nil }
        return .evaluation(step: 0, accuracy: try evaluate(), problems: min(options.evalLimit, evalExamples.count))
    }

    /// Held-out accuracy every `evalEvery` steps and at the end.
    public func evaluation(afterStep step: Int, isLast: Bool, every: Int?) throws -> GRPOEvent? {
        guard !evalExamples.isEmpty, options.evalLimit > 0, isLast || (options.evalEvery > 0 && step % options.evalEvery == 0) else { return nil }
        return .evaluation(step: step, accuracy: try evaluate(), problems: min(options.evalLimit, evalExamples.count))
    }

    /// GRPO reads no data stream: the prompts of a step are a function of the seed and the step.
    public func cursor(afterSteps steps: Int) -> DataCursor { DataCursor(epoch: 0, microBatch: steps) }

    public static func checkpointEvent(step: Int, path: String) -> GRPOEvent { .checkpoint(step: step, path: path) }

    public func run(step: Int, totalSteps: Int, rng: inout RNG, passes: StepPasses) throws -> GRPOEvent {
        let started = Date()
        let (p, g) = (options.promptsPerStep, options.groupSize)
        let indices = GRPOTrainer.promptIndices(step: step, count: p, of: trainExamples.count, seed: options.seed)
        var seeds = GRPOTrainer.generator(seed: options.seed, step: step, stream: 1)
        let prompts = try indices.map { try prompt(for: $0, in: trainExamples, cacheKey: $0) }
        var rollout = GRPORollout(maxNewTokens: options.maxNewTokens, temperature: Float(options.temperature),
                                  topP: Float(options.topP), stopIds: codec.stopIds, maxBatch: options.rolloutBatchSize)
        rollout.keyValuePrecision = options.rolloutKeyValuePrecision
        // This process's groups; each sequence's generator is numbered by its index in the step's whole list.
        let seed = seeds.next()
        let mine = MicroBatchWindow.share(count: p, rank: collective.rank, size: collective.size)
        let sampled = mine.isEmpty ? [] : try rollout.sample(model: rollouts.engine(), prompts: prompts[mine].map(\.ids), copies: g,
                                                             seed: seed, firstSequence: mine.lowerBound * g)
        var completions = try GRPOCompletion.gather(sampled, over: collective)
        // Sampling-time log-probs are the policy's only when the rollout engine computes exactly in f32, and the same
        // bits whatever the process count only in one process (see `GRPOCompletion.gather`).
        if !options.rolloutsAreExact || collective.size > 1 {
            for i in completions.indices { completions[i].oldLogProbabilities = nil }
        }
        let rolloutSeconds = Date().timeIntervalSince(started)

        // Rewards and advantages.
        var totals = [Double](), partSums = [Double](repeating: 0, count: rewards.functions.count)
        for (i, completion) in completions.enumerated() {
            let text = codec.decode(completion.ids.filter { !codec.stopIds.contains($0) })
            let (total, parts) = rewards.evaluate(prompt: prompts[i / g].text, completion: text, example: trainExamples[indices[i / g]])
            totals.append(total)
            for (k, part) in parts.enumerated() { partSums[k] += part }
        }
        let advantages = try GRPOAdvantages(rewards: totals, groupSize: g, scaling: options.scaleRewards)

        // Training sequences: prompt + completion; the completion's tokens take the loss (the reference
        // loss leaves out the stop token, as the reference re-tokenizes the text without it). Old
        // log-probabilities from sampling time sit at the positions that predict each trained token.
        let trainStopToken = options.loss.kind == .grpo
        var sequences = [(ids: [Int], targets: [Int], advantage: Double)]()
        var oldLogProbabilities = [Int: [Float]]()
        for (i, completion) in completions.enumerated() {
            let promptIds = prompts[i / g].ids
            let trained = trainStopToken || !completion.stopped ? completion.ids : Array(completion.ids.dropLast())
            let ids = promptIds + completion.ids
            var targets = [Int](repeating: TokenBatch.ignoreIndex, count: ids.count)
            for (k, id) in trained.enumerated() { targets[promptIds.count - 1 + k] = id }
            if let sampled = completion.oldLogProbabilities {
                var old = [Float](repeating: 0, count: ids.count)
                for k in trained.indices { old[promptIds.count - 1 + k] = sampled[k] }
                oldLogProbabilities[i] = old
            }
            sequences.append((ids, targets, advantages.advantages[i]))
        }
        let active = sequences.indices.filter { options.loss.needsReference || sequences[$0].advantage != 0 }
        let batches = stride(from: 0, to: active.count, by: options.microBatchSize).map { Array(active[$0..<min($0 + options.microBatchSize, active.count)]) }
        func tokenBatch(_ members: [Int]) -> TokenBatch {
            TokenBatch.padded(sequences: members.map { sequences[$0].ids }, targets: members.map { sequences[$0].targets }, padId: codec.padId)
        }
        let temperature = Float(options.temperature)
        var referenceLogProbabilities = [Int: [Float]]()
        if options.loss.needsReference {
            try withInitialValues {
                for members in batches[MicroBatchWindow.share(count: batches.count, rank: collective.rank, size: collective.size)] {
                    let lp = try model.labelLogProbabilities(tokenBatch(members), temperature: temperature)
                    for (row, s) in members.enumerated() { referenceLogProbabilities[s] = lp[row] }
                }
            }
        }

        // Passes: each accumulates the policy gradient over all active completions, then one update.
        // Without sampling-time log-probabilities (top-p < 1), the first pass's own are the old policy's.
        var lossSum = 0.0, gradNorm = 0.0
        var klSum = 0.0, clipped = 0, tokens = 0
        let trainedCounts = sequences.map { $0.targets.filter { $0 != TokenBatch.ignoreIndex }.count }
        let allTrainedTokens = trainedCounts.reduce(0, +)
        let totalSequences = sequences.count
        var learningRate = passes.learningRate
        for epoch in 0..<options.epochsPerStep {
            try passes.begin()
            let final = epoch == options.epochsPerStep - 1
            // Per micro-batch: its loss sum, KL sum, clipped tokens and trained tokens, gathered in global order.
            let sums = try passes.microBatches.run(count: batches.count, width: 4) { b in
                let members = batches[b]
                var loss = 0.0, kl = 0.0, clippedTokens = 0.0, lossTokens = 0.0
                let batch = tokenBatch(members)
                let logProbabilities = try model.accumulateLogProbabilityGradient(batch, temperature: temperature) { row, t, lp in
                    let s = members[row]
                    let old = Double(oldLogProbabilities[s]?[t] ?? lp)
                    let reference = referenceLogProbabilities[s].map { Double($0[t]) }
                    let n = trainedCounts[s]
                    let token = options.loss.token(logProbability: Double(lp), old: old, reference: reference, advantage: sequences[s].advantage)
                    let w = GRPOLoss.tokenWeight(tokens: n, sequences: totalSequences)
                    loss += w * token.loss
                    kl += token.kl; lossTokens += 1
                    if token.lowClipped || token.highClipped { clippedTokens += 1 }
                    return Float(w * token.dLogProbability)
                }
                for (row, s) in members.enumerated() where oldLogProbabilities[s] == nil { oldLogProbabilities[s] = logProbabilities[row] }
                return [loss, kl, clippedTokens, lossTokens]
            }
            var passLoss = 0.0
            for v in sums {
                passLoss += v[0]
                if final { klSum += v[1]; clipped += Int(v[2]); tokens += Int(v[3]) }
            }
            lossSum += passLoss
            guard passLoss.isFinite else { throw TrainingError.nonFinite(step: step + 1, quantity: "policy loss", value: passLoss) }
            // Without an active completion there is no gradient: no update (AdamW would still move the weights).
            if !batches.isEmpty {
                let update = try passes.update(final: final)
                gradNorm = update.gradNorm
                learningRate = update.learningRate
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let generated = completions.reduce(0) { $0 + $1.ids.count }
        let allTokens = completions.enumerated().reduce(0) { $0 + $1.element.ids.count + prompts[$1.offset / g].ids.count }
        // Tokens of skipped completions count in the denominators of the token means (they are unclipped, KL only with β > 0).
        let tokenDenominator = max(1, options.loss.needsReference ? tokens : allTrainedTokens)
        return .step(GRPOStepMetrics(
            step: step + 1, totalSteps: totalSteps, reward: advantages.meanReward, rewardStd: advantages.rewardStd,
            fractionRewardZeroStd: advantages.fractionZeroStd,
            rewardMeans: Dictionary(zip(rewards.functions.map(\.name), partSums.map { $0 / Double(completions.count) }), uniquingKeysWith: { a, _ in a }),
            meanCompletionLength: Double(generated) / Double(completions.count),
            clippedRatio: Double(completions.filter { !$0.stopped }.count) / Double(completions.count),
            kl: options.loss.needsReference ? klSum / Double(max(1, tokens)) : nil,
            clipRatio: Double(clipped) / Double(tokenDenominator),
            loss: lossSum / Double(options.epochsPerStep), gradNorm: gradNorm, learningRate: learningRate,
            rolloutSeconds: rolloutSeconds, trainSeconds: seconds - rolloutSeconds,
            rolloutTokensPerSecond: rolloutSeconds > 0 ? Double(generated) / rolloutSeconds : 0,
            tokensPerSecond: seconds > 0 ? Double(allTokens) / seconds : 0, peakRSSBytes: ProcessMemory.peakResidentBytes))
    }


    // MARK: Rollouts and evaluation

    /// Greedy accuracy on the first `evalLimit` held-out problems (each process scores its share of them; the scores
    /// are gathered and summed in problem order).
    public func evaluate() throws -> Double {
        let problems = Array(evalExamples.prefix(options.evalLimit))
        guard !problems.isEmpty else { return .nan }
        let mine = MicroBatchWindow.share(count: problems.count, rank: collective.rank, size: collective.size)
        var scores = [Double]()
        if !mine.isEmpty {
            let prompts = try mine.map { try prompt(for: $0, in: problems, cacheKey: -1 - $0) }
            let greedy = GRPORollout(maxNewTokens: options.maxNewTokens, temperature: 0, topP: 1, stopIds: codec.stopIds,
                                     maxBatch: options.rolloutBatchSize)
            let completions = try greedy.sample(model: rollouts.engine(), prompts: prompts.map(\.ids), copies: 1, seed: 0)
            for (k, completion) in completions.enumerated() {
                let text = codec.decode(completion.ids.filter { !codec.stopIds.contains($0) })
                scores.append(accuracy.reward(prompt: prompts[k].text, completion: text, example: problems[mine.lowerBound + k]))
            }
        }
        var correct = 0.0
        for score in try collective.gather(scores).joined() { correct += score }
        return correct / Double(problems.count)
    }

    /// The policy with every projection materialized to a dense weight (as the reference syncs dense weights
    /// into vLLM before each generation, Docs/tracks.md §7 step 8): decoding then costs what the base model costs.
    /// Embeddings, norms and the LM head are shared, not copied; the model itself is returned when every
    /// slot is already dense.
    public func rolloutModel() throws -> CausalLM { try GRPORolloutEngine.denseCopy(of: model) }

    private func prompt(for index: Int, in examples: [RewardExample], cacheKey: Int) throws -> (text: String, ids: [Int]) {
        if let cached = promptCache[cacheKey] { return cached }
        let made = try codec.prompt(examples[index])
        guard !made.ids.isEmpty else {
            throw TrainingError.malformedRecord(path: "prompts", location: "problem \(index)", reason: "the prompt has no token")
        }
        promptCache[cacheKey] = made
        return made
    }

    /// Runs `body` with the trainable tensors at their initial values (the reference policy), then restores them.
    private func withInitialValues(_ body: () throws -> Void) throws {
        let current = trainableParameters.map { ($0.parameter, $0.parameter.value) }
        for (name, p) in trainableParameters { if let v = initialValues[name] { p.value = v } }
        defer { for (p, v) in current { p.value = v } }
        try body()
    }
}

/// GRPO on the one loop (`TrainingLoop` with a `GRPOStep`): same optimizer, checkpoints, adapter output and
/// bit-identical resume as supervised training.
public final class GRPOTrainer: TrainingLoop<GRPOStep> {
    public init(model: CausalLM, options: GRPOOptions, trainExamples: [RewardExample], evalExamples: [RewardExample],
                rewards: WeightedRewards, accuracy: any RewardFunction, codec: GRPOCodec, outputDirectory: URL?,
                collective: any Collective = SingleProcess(), onEvent: @escaping (GRPOEvent) -> Void = { _ in }) throws {
        let step = try GRPOStep(model: model, options: options, trainExamples: trainExamples, evalExamples: evalExamples,
                                rewards: rewards, accuracy: accuracy, codec: codec, collective: collective)
        let loop = Options(totalSteps: options.steps, schedule: GRPOStep.schedule(options), adamW: options.adamW,
                           maxGradNorm: options.maxGradNorm, evaluateEvery: options.evalEvery, saveEvery: options.saveEvery,
                           keepCheckpoints: options.keepCheckpoints, outputDirectory: outputDirectory, seed: options.seed)
        super.init(model: model, step: step, options: loop, onEvent: onEvent)
        self.collective = collective
    }

    /// Greedy accuracy on the first `evalLimit` held-out problems.
    public func evaluate() throws -> Double { try stepObjective.evaluate() }

    /// The policy with every projection materialized to a dense weight (see `GRPOStep.rolloutModel`).
    public func rolloutModel() throws -> CausalLM { try stepObjective.rolloutModel() }

    // MARK: Determinism

    /// A generator that depends only on the seed, the step and the stream.
    static func generator(seed: UInt64, step: Int, stream: UInt64) -> RNG {
        var mix = RNG(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        for _ in 0..<(1 + step % 3) { _ = mix.next() }
        return RNG(seed: mix.next() &+ UInt64(step) &* 0xD1B5_4A32_D192_ED03)
    }

    /// P prompt indices of step `step`: without replacement within the step (with replacement beyond N).
    public static func promptIndices(step: Int, count: Int, of n: Int, seed: UInt64) -> [Int] {
        var rng = generator(seed: seed, step: step, stream: 0)
        var pool = Array(0..<n)
        return (0..<count).map { i in
            guard i < n else { return rng.int(below: n) }
            let j = i + rng.int(below: n - i)
            pool.swapAt(i, j)
            return pool[i]
        }
    }
}
