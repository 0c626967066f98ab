import Foundation
@testable import FuRAModels
import FuRATensor
import FuRATestSupport
import Testing

/// The generation engine's fast paths against their simple twins, on a config whose head dim (16)
/// takes the vectorized attention.
@Suite struct GenerationModelTests {
    static func config(bias: Bool = false) -> ModelConfig {
        ModelConfig(hiddenSize: 64, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2,
                    vocabSize: 29, rmsNormEps: 1e-5, ropeTheta: 100, maxPositionEmbeddings: 64,
                    tieWordEmbeddings: true, attentionBias: bias, qkNorm: false)
    }

    @Test(arguments: [1, 2, 4])
    func groupedAttentionMatchesReference(group: Int) throws {
        let (g, d) = (2, 32)
        let model = try CausalLM.random(config: ModelConfig(hiddenSize: 64 * group, intermediateSize: 8, numHiddenLayers: 1,
                                                             numAttentionHeads: g * group, numKeyValueHeads: g, headDim: d,
                                                             vocabSize: 5, maxPositionEmbeddings: 64), seed: 1)
        let engine = try GenerationModel(model: model)
        let cache = try KVCache(layers: 1, slots: 3, keyValueHeads: g, headDim: d, capacity: 20)
        var rng = RNG(seed: 2)
        let rows: [(slot: Int, position: Int)] = [(0, 0), (1, 6), (1, 7), (2, 19)]
        for slot in 0..<3 {
            for p in 0..<20 { for head in 0..<g { for i in 0..<d {
                cache.keyBase(layer: 0, slot: slot, head: head)[cache.keyIndex(p, i)] = rng.normal()
                cache.valueBase(layer: 0, slot: slot, head: head)[cache.valueIndex(p, i)] = rng.normal()
            } } }
        }
        let q = TestSupport.random([rows.count, g * group * d], seed: 3, std: 2)
        let fast = engine.attend(q, rows: rows, layer: 0, cache: cache, heads: g * group)
        let slow = engine.attendReference(q, rows: rows, layer: 0, cache: cache, heads: g * group)
        #expect(zip(fast.storage, slow.storage).allSatisfy { abs($0 - $1) <= 1e-5 })
    }

    /// A decode step's attention with the rotation and cache writes done inside each task equals the
    /// separate rotate, store and attend passes bit for bit (cache contents included), shared slots too.
    @Test func decodeAttentionWithNewKeysEqualsSeparatePasses() throws {
        let (g, group, d) = (2, 3, 32)
        let model = try CausalLM.random(config: ModelConfig(hiddenSize: 64, intermediateSize: 8, numHiddenLayers: 1,
                                                             numAttentionHeads: g * group, numKeyValueHeads: g, headDim: d,
                                                             vocabSize: 7, maxPositionEmbeddings: 64), seed: 11)
        let engine = try GenerationModel(model: model)
        func primed() throws -> KVCache {
            let cache = try engine.makeCache(slots: 4, capacity: 40)
            _ = try engine.step(cache: cache, slots: [0, 1], tokens: [(0..<35).map { $0 % 7 }, [1, 2, 3]])
            cache.shareSlot(from: 0, to: 2)
            cache.shareSlot(from: 0, to: 3)
            return cache
        }
        let (a, b) = (try primed(), try primed())
        let rows: [(slot: Int, position: Int)] = [(3, 35), (1, 3), (0, 35), (2, 35)]
        var q = TestSupport.random([rows.count, g * group * d], seed: 12)
        var k = TestSupport.random([rows.count, g * d], seed: 13)
        let v = TestSupport.random([rows.count, g * d], seed: 14)
        let fused = engine.attend(q, rows: rows, layer: 0, cache: a, heads: g * group, newKeys: (k, v))
        engine.rotate(&q, rows: rows, heads: g * group)
        engine.rotate(&k, rows: rows, heads: g)
        engine.store(k, v, rows: rows, layer: 0, cache: b)
        let separate = engine.attend(q, rows: rows, layer: 0, cache: b, heads: g * group)
        #expect(fused.storage == separate.storage)
        for row in rows { for head in 0..<g { for p in 0...row.position { for i in 0..<d {
            #expect(a.key(layer: 0, slot: row.slot, head: head, position: p, i) == b.key(layer: 0, slot: row.slot, head: head, position: p, i))
            #expect(a.value(layer: 0, slot: row.slot, head: head, position: p, i) == b.value(layer: 0, slot: row.slot, head: head, position: p, i))
        } } } }
    }

    /// Gemma 3 in the engine (head dim 16, so the vectorized attention): sliding windows of 3 on two of
    /// three layers, prefill and decode past the window, against the training model's full forward.
    @Test func gemma3CachedLogitsEqualFullRecompute() throws {
        let config = ModelConfig(modelType: "gemma3_text", hiddenSize: 32, intermediateSize: 40, numHiddenLayers: 3,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16, vocabSize: 29, rmsNormEps: 1e-6,
                                 ropeTheta: 1000, maxPositionEmbeddings: 64, tieWordEmbeddings: true, qkNorm: true,
                                 slidingWindow: 3, layerTypes: ["sliding_attention", "full_attention", "sliding_attention"],
                                 localRopeTheta: 10, queryPreAttnScalar: 12)
        let model = try CausalLM.random(config: config, seed: 8)
        let engine = try GenerationModel(model: model)
        let cache = try engine.makeCache(slots: 2, capacity: 16)
        var sequences = [[1, 5, 9, 2, 7, 3], [4, 0]]
        let v = config.vocabSize
        _ = try engine.step(cache: cache, slots: [0, 1], tokens: sequences)
        for step in 0..<4 {
            let next = [[(step * 7) % v], [(step * 5 + 1) % v]]
            let logits = try engine.step(cache: cache, slots: [0, 1], tokens: next)
            for s in 0..<2 {
                sequences[s] += next[s]
                let expected = try model.logits(for: [sequences[s]]).storage
                let worst = zip(logits.storage[(s * v)..<((s + 1) * v)], expected).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                #expect(worst <= 1e-4, "step \(step) slot \(s)")
            }
        }
        var q = TestSupport.random([2, 64], seed: 3)
        let rows: [(slot: Int, position: Int)] = [(0, 9), (1, 5)]
        engine.activeRope = engine.ropeOfBlock[0]
        engine.rotate(&q, rows: rows, heads: 4)
        let fast = engine.attend(q, rows: rows, layer: 0, cache: cache, heads: 4)
        let slow = engine.attendReference(q, rows: rows, layer: 0, cache: cache, heads: 4)
        #expect(zip(fast.storage, slow.storage).allSatisfy { abs($0 - $1) <= 1e-5 })
    }

    /// Cached decode with every precision against a from-scratch forward of the model whose weights
    /// are what that precision stores (so only summation order differs).
    @Test(arguments: [GenerationWeightPrecision.float32, .bfloat16, .int8])
    func cachedLogitsEqualFullRecompute(precision: GenerationWeightPrecision) throws {
        let model = try CausalLM.random(config: Self.config(bias: true), seed: 5)
        let engine = try GenerationModel(model: model, precision: precision)
        // The weights as the packed copies hold them, written back into the model for the reference.
        for (name, p) in model.namedParameters where p.value.shape.count == 2 {
            switch precision {
            case .bfloat16: HalfPrecision.roundToBFloat16(&p.value.storage)
            case .int8: p.value = try PanelMatrix.quantized8(p.value).widened()
            default: break
            }
            _ = name
        }
        let cache = try engine.makeCache(slots: 2, capacity: 12)
        var sequences = [[1, 5, 9, 2, 7, 3], [4, 0]]
        let v = model.config.vocabSize
        _ = try engine.step(cache: cache, slots: [0, 1], tokens: sequences)
        for step in 0..<3 {
            let next = [[(step * 7) % v], [(step * 5 + 1) % v]]
            let logits = try engine.step(cache: cache, slots: [0, 1], tokens: next)
            for s in 0..<2 {
                sequences[s] += next[s]
                let expected = try model.logits(for: [sequences[s]]).storage
                let worst = zip(logits.storage[(s * v)..<((s + 1) * v)], expected).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                #expect(worst <= 1e-4, "\(precision) step \(step) slot \(s)")
            }
        }
    }

    @Test func ggufPrecisionNeedsAFile() throws {
        let model = try CausalLM.random(config: Self.config(), seed: 6)
        #expect(throws: GenerationError.self) { try GenerationModel(model: model, precision: .gguf) }
    }

    /// llama.cpp's q/k row order: file row 2i + s holds HF row s·D/2 + i within each head.
    @Test func fileRowUndoesThePermutation() throws {
        let w = TestSupport.random([12, 3], seed: 7)
        let permuted = try GGUFWeightMap.permuteRows(w, heads: 2)
        for r in 0..<12 {
            let f = GenerationPacker.fileRow(ofHF: r, rows: 12, heads: 2)
            #expect(Array(permuted.storage[(f * 3)..<(f * 3 + 3)]) == Array(w.storage[(r * 3)..<(r * 3 + 3)]))
        }
    }
}
