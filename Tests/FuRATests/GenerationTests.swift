import Foundation
import FuRAModels
import FuRATensor
import FuRATestSupport
import Testing

@Suite struct GenerationTests {
    static func config(bias: Bool = false, qkNorm: Bool = false, vocab: Int = 23) -> ModelConfig {
        ModelConfig(hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                    vocabSize: vocab, rmsNormEps: 1e-5, ropeTheta: 100, maxPositionEmbeddings: 64,
                    tieWordEmbeddings: true, attentionBias: bias, qkNorm: qkNorm)
    }

    /// Logits at the last position of `ids`, recomputed from scratch without a cache: (V,).
    static func fullLogits(_ model: CausalLM, _ ids: [Int]) throws -> [Float] {
        try model.logits(for: [ids]).storage
    }

    static func maxDifference(_ a: ArraySlice<Float>, _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test(arguments: [(false, false), (true, true)])
    func cachedLogitsEqualFullRecomputeForMixedLengths(bias: Bool, qkNorm: Bool) throws {
        let model = try CausalLM.random(config: Self.config(bias: bias, qkNorm: qkNorm), seed: 3)
        let engine = try GenerationModel(model: model)
        let cache = try engine.makeCache(slots: 3, capacity: 16)
        var sequences = [[1, 5, 9, 2, 7], [3, 3, 8], [4, 0, 11, 6, 2, 19, 22]]
        let v = model.config.vocabSize
        // Packed prefill of three lengths, logits at every position.
        let all = try engine.step(cache: cache, slots: [0, 1, 2], tokens: sequences, allPositions: true)
        var row = 0
        for s in sequences {
            for t in 1...s.count {
                let expected = try Self.fullLogits(model, Array(s[0..<t]))
                #expect(Self.maxDifference(all.storage[(row * v)..<((row + 1) * v)], expected) <= 1e-5)
                row += 1
            }
        }
        #expect(cache.lengths == [5, 3, 7])
        // Decode steps over changing subsets, one with several new tokens at once.
        let steps: [([Int], [[Int]])] = [([0, 1, 2], [[3], [9], [1]]), ([2, 0], [[5], [8, 8, 1]]), ([1], [[0]])]
        for (slots, tokens) in steps {
            let logits = try engine.step(cache: cache, slots: slots, tokens: tokens)
            for (r, (slot, new)) in zip(slots, tokens).enumerated() {
                sequences[slot] += new
                let expected = try Self.fullLogits(model, sequences[slot])
                #expect(Self.maxDifference(logits.storage[(r * v)..<((r + 1) * v)], expected) <= 1e-5)
            }
        }
        #expect(cache.lengths == sequences.map(\.count))
    }

    @Test func bf16WeightsEqualF32OnBF16RoundedModel() throws {
        // Round every weight to bf16 first: then the fused bf16 path (q/k/v and gate/up fused, biases
        // concatenated) must give the f32 path's logits up to summation order.
        let model = try CausalLM.random(config: Self.config(bias: true, qkNorm: true), seed: 12)
        for (_, p) in model.namedParameters { HalfPrecision.roundToBFloat16(&p.value.storage) }
        let f32 = try GenerationModel(model: model), bf16 = try GenerationModel(model: model, precision: .bfloat16)
        let a = try f32.makeCache(slots: 2, capacity: 12), b = try bf16.makeCache(slots: 2, capacity: 12)
        let prompts = [[1, 2, 3, 4, 5, 6], [7, 8]]
        for rows in [prompts, [[9], [10]]] {
            let x = try f32.step(cache: a, slots: [0, 1], tokens: rows, allPositions: true)
            let y = try bf16.step(cache: b, slots: [0, 1], tokens: rows, allPositions: true)
            #expect(Self.maxDifference(x.storage[...], y.storage) <= 1e-4)
        }
    }

    @Test func copiedSlotContinuesLikeTheOriginal() throws {
        let model = try CausalLM.random(config: Self.config(), seed: 4)
        let engine = try GenerationModel(model: model)
        let cache = try engine.makeCache(slots: 2, capacity: 8)
        _ = try engine.step(cache: cache, slots: [0], tokens: [[1, 2, 3]])
        cache.copySlot(from: 0, to: 1)
        let l = try engine.step(cache: cache, slots: [0, 1], tokens: [[4], [4]])
        let v = model.config.vocabSize
        #expect(Array(l.storage[0..<v]) == Array(l.storage[v..<(2 * v)]))
        #expect(Self.maxDifference(l.storage[0..<v], try Self.fullLogits(model, [1, 2, 3, 4])) <= 1e-5)
    }

    @Test func greedyEqualsArgmaxOfFullRecomputeAndIgnoresBatchMates() throws {
        let model = try CausalLM.random(config: Self.config(), seed: 5)
        let generator = Generator(model: try GenerationModel(model: model))
        let prompts = [[1, 2, 3], [7], [4, 4, 9, 10, 2]]
        let options = GenerationOptions(maxNewTokens: 6)
        let batched = try generator.generate(prompts: prompts, options: options)
        for (p, result) in zip(prompts, batched) {
            var ids = p, expected: [Int] = [], logProbs: [Float] = []
            for _ in 0..<6 {
                let l = try Self.fullLogits(model, ids)
                let t = l.indices.max { l[$0] < l[$1] }!
                let m = l.max()!
                logProbs.append(l[t] - (m + log(l.reduce(0) { $0 + exp($1 - m) })))
                expected.append(t); ids.append(t)
            }
            #expect(result.ids == expected)
            #expect(result.finishReason == .length)
            #expect(zip(result.logProbs, logProbs).allSatisfy { abs($0 - $1) <= 1e-4 })
            let alone = try generator.generate(prompts: [p], options: options)
            #expect(alone[0].ids == result.ids)
        }
    }

    @Test func sampledSequencesAreSeededAndRepeatedPromptsDiffer() throws {
        let model = try CausalLM.random(config: Self.config(), seed: 6)
        let generator = Generator(model: try GenerationModel(model: model))
        let options = GenerationOptions(maxNewTokens: 8, sampling: SamplingOptions(temperature: 1.5), seed: 42)
        let a = try generator.generate(prompts: Array(repeating: [1, 2, 3], count: 4), options: options)
        let b = try generator.generate(prompts: Array(repeating: [1, 2, 3], count: 4), options: options)
        #expect(a == b)
        #expect(Set(a.map(\.ids)).count > 1)
        // A repeated prompt shares its prefill; its first-token log-probs agree with a fresh run.
        for r in a {
            let l = try Self.fullLogits(model, [1, 2, 3])
            let m = l.max()!, z = m + log(l.reduce(0) { $0 + exp($1 - m) })
            #expect(abs(r.logProbs[0] - (l[r.ids[0]] - z)) <= 1e-4)
        }
    }

    /// `firstSequenceIndex` numbers a call's sequences within a longer list: each part of a list sampled alone (as the
    /// processes of a data-parallel GRPO step sample their shares) draws the tokens the whole list draws for it.
    /// (The draws are the same; the logits they read can differ in the last bit with the rows decoded together.)
    @Test func aPartSampledAloneDrawsWhatTheWholeListDraws() throws {
        let model = try CausalLM.random(config: Self.config(), seed: 7)
        let generator = Generator(model: try GenerationModel(model: model))
        let prompts = [[1, 2, 3], [1, 2, 3], [7], [7], [4, 4, 9, 10, 2], [4, 4, 9, 10, 2]]
        let options = GenerationOptions(maxNewTokens: 8, sampling: SamplingOptions(temperature: 1.5), seed: 42, maxBatch: 4)
        let whole = try generator.generate(prompts: prompts, options: options)
        #expect(Set(whole.map(\.ids)).count > 3)
        for part in [0..<2, 2..<6, 3..<4, 5..<6] {
            var partOptions = options
            partOptions.firstSequenceIndex = part.lowerBound
            let alone = try generator.generate(prompts: Array(prompts[part]), options: partOptions)
            #expect(alone.map(\.ids) == whole[part].map(\.ids), "sequences \(part)")
            // Log-probabilities come from logits whose last bit may depend on the rows decoded together.
            for (x, y) in zip(alone, whole[part]) { #expect(zip(x.processedLogProbs, y.processedLogProbs).allSatisfy { abs($0 - $1) <= 1e-5 }) }
        }
        // The default (first index 0) is the whole list's start: a prefix draws as before.
        #expect(try generator.generate(prompts: Array(prompts.prefix(3)), options: options).map(\.ids) == whole.prefix(3).map(\.ids))
        var negative = options
        negative.firstSequenceIndex = -1
        #expect(throws: GenerationError.self) { try generator.generate(prompts: prompts, options: negative) }
    }

    /// Groups of repeated prompts (as GRPO samples them): sharing the prompt's cache slot gives the
    /// copy path's tokens and log-probs exactly, for prompts with and without a partial key block.
    @Test func sharedPromptPrefixEqualsCopiedPrefix() throws {
        let model = try CausalLM.random(config: ModelConfig(hiddenSize: 64, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4,
                                                            numKeyValueHeads: 2, vocabSize: 29, maxPositionEmbeddings: 96), seed: 8)
        let generator = Generator(model: try GenerationModel(model: model))
        let prompts = [(0..<32).map { ($0 * 5) % 29 }, (0..<21).map { ($0 * 3 + 1) % 29 }, [4, 5]]
        let batch = (0..<12).map { prompts[$0 % 3] }
        let options = GenerationOptions(maxNewTokens: 7, sampling: SamplingOptions(temperature: 1.2), seed: 9)
        let shared = try generator.generate(prompts: batch, options: options)
        generator.sharePromptPrefix = false
        let copied = try generator.generate(prompts: batch, options: options)
        #expect(shared == copied)
        #expect(Set(shared.map(\.ids)).count > 3)
    }

    @Test func stopsAtEOSAndStopStringsAndLimitsLength() throws {
        let model = try CausalLM.random(config: Self.config(), seed: 5)
        let generator = Generator(model: try GenerationModel(model: model))
        let free = try generator.generate(prompts: [[1, 2, 3]], options: GenerationOptions(maxNewTokens: 6))[0]
        let eos = free.ids[2]
        let first = free.ids.firstIndex(of: eos)!
        let stopped = try generator.generate(prompts: [[1, 2, 3]], options: GenerationOptions(maxNewTokens: 6, eosTokenIds: [eos]))[0]
        #expect(stopped.ids == Array(free.ids[...first]))
        #expect(stopped.finishReason == .eos)
        // Decoder: token t → letter; stop at the text of tokens 3 and 4 of the free run.
        let decode: ([Int]) -> String = { String($0.map { Character(UnicodeScalar(UInt8(97 + $0))) }) }
        let stop = decode(Array(free.ids[3...4]))
        let s = try generator.generate(prompts: [[1, 2, 3]], options: GenerationOptions(maxNewTokens: 6, stopStrings: [stop]), decode: decode)[0]
        let full = decode(free.ids)
        let cut = full.range(of: stop)!
        #expect(s.finishReason == .stop)
        #expect(s.text == String(full[..<cut.lowerBound]))
        #expect(decode(s.ids).hasSuffix(stop) && full.hasPrefix(decode(s.ids)))
        #expect(free.finishReason == .length && free.ids.count == 6)
    }

    @Test func badOptionsAndInputsAreTypedErrors() throws {
        let model = try CausalLM.random(config: Self.config(), seed: 5)
        let engine = try GenerationModel(model: model)
        let generator = Generator(model: engine)
        #expect(throws: GenerationError.self) { try generator.generate(prompts: [[1]], options: GenerationOptions(maxNewTokens: 0)) }
        #expect(throws: GenerationError.self) { try generator.generate(prompts: [[]], options: GenerationOptions()) }
        #expect(throws: GenerationError.self) { try generator.generate(prompts: [[99]], options: GenerationOptions()) }
        #expect(throws: GenerationError.self) {
            try generator.generate(prompts: [[1]], options: GenerationOptions(sampling: SamplingOptions(temperature: -1)))
        }
        #expect(throws: GenerationError.self) { try generator.generate(prompts: [[1]], options: GenerationOptions(stopStrings: ["x"])) }
        let cache = try engine.makeCache(slots: 1, capacity: 2)
        #expect(throws: GenerationError.self) { try engine.step(cache: cache, slots: [0], tokens: [[1, 2, 3]]) }
        #expect(throws: GenerationError.self) { try engine.step(cache: cache, slots: [1], tokens: [[1]]) }
    }
}
