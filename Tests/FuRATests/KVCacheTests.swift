import Foundation
@testable import FuRAModels
import FuRATensor
import FuRATestSupport
import Testing

/// Slots that read a prompt's keys and values from another slot (`KVCache.shareSlot`) against slots
/// holding copies (`copySlot`): same logits bit for bit, on a head dim (32) that takes the vectorized attention.
@Suite struct KVCacheTests {
    static func model(seed: UInt64) throws -> CausalLM {
        try CausalLM.random(config: ModelConfig(hiddenSize: 96, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 3,
                                                numKeyValueHeads: 1, headDim: 32, vocabSize: 31, maxPositionEmbeddings: 128), seed: seed)
    }

    static func row(_ t: Tensor, _ r: Int) -> [Float] {
        let v = t.shape[1]
        return Array(t.storage[(r * v)..<((r + 1) * v)])
    }

    /// A 37-token prompt (two whole key blocks and 5 positions): slots 1 and 2 share it, slot 3 copies
    /// it; every decode step gives the sharing slots exactly the copy's logits.
    @Test func sharedSlotsDecodeExactlyLikeCopies() throws {
        let engine = try GenerationModel(model: try Self.model(seed: 1))
        let cache = try engine.makeCache(slots: 5, capacity: 60)
        let prompt = (0..<37).map { ($0 * 7 + 3) % 31 }
        _ = try engine.step(cache: cache, slots: [0], tokens: [prompt])
        cache.shareSlot(from: 0, to: 1)
        cache.shareSlot(from: 1, to: 2)   // reads from slot 0 too, not from slot 1
        cache.copySlot(from: 0, to: 3)
        cache.copySlot(from: 2, to: 4)    // a full copy of what slot 2 reads
        #expect(cache.sources == [0, 0, 0, 3, 4])
        #expect(cache.sharedPositions == [0, 32, 32, 0, 0])
        #expect(cache.lengths == [37, 37, 37, 37, 37])
        for step in 0..<6 {
            // Slots 1 and 3 get the same tokens (as do 2 and 4); four rows, so every row takes the same
            // panel kernel (the products' summation order depends on a row's place in groups of 8/4/1).
            let a = (step * 5 + 1) % 31, b = (step * 11 + 2) % 31
            let logits = try engine.step(cache: cache, slots: [1, 2, 3, 4], tokens: [[a], [b], [a], [b]])
            #expect(Self.row(logits, 0) == Self.row(logits, 2), "step \(step)")
            #expect(Self.row(logits, 1) == Self.row(logits, 3), "step \(step)")
            // The source slot goes its own way, writing only above the shared positions.
            _ = try engine.step(cache: cache, slots: [0], tokens: [[(step * 13 + 5) % 31]])
        }
    }

    @Test func attentionOverSharedSlotsMatchesReference() throws {
        let engine = try GenerationModel(model: try Self.model(seed: 2))
        let cache = try engine.makeCache(slots: 4, capacity: 40)
        _ = try engine.step(cache: cache, slots: [0, 3], tokens: [(0..<33).map { $0 % 31 }, [4, 5, 6]])
        cache.shareSlot(from: 0, to: 1)
        cache.shareSlot(from: 0, to: 2)
        _ = try engine.step(cache: cache, slots: [1, 2], tokens: [[7, 8], [9]])
        Self.expectAttentionMatchesReference(engine, cache, rows: [(3, 2), (1, 34), (0, 32), (2, 33), (1, 20)], seed: 3)
    }

    /// The vectorized attention of both layers against its reference for query rows at (slot, position), within 1e-5.
    static func expectAttentionMatchesReference(_ engine: GenerationModel, _ cache: KVCache, rows: [(slot: Int, position: Int)],
                                                seed: UInt64) {
        let q = TestSupport.random([rows.count, 3 * 32], seed: seed, std: 2)
        for layer in 0..<2 {
            let fast = engine.attend(q, rows: rows, layer: layer, cache: cache, heads: 3)
            let slow = engine.attendReference(q, rows: rows, layer: layer, cache: cache, heads: 3)
            #expect(zip(fast.storage, slow.storage).allSatisfy { abs($0 - $1) <= 1e-5 })
        }
    }

    /// Rewinding the source slot and writing over the shared positions first gives the sharing slots
    /// their own copies, so they continue as before.
    @Test func writingOverSharedPositionsKeepsTheSharersIntact() throws {
        let engine = try GenerationModel(model: try Self.model(seed: 4))
        let cache = try engine.makeCache(slots: 3, capacity: 40)
        let prompt = (0..<20).map { ($0 * 3) % 31 }
        _ = try engine.step(cache: cache, slots: [0], tokens: [prompt])
        cache.shareSlot(from: 0, to: 1)
        cache.copySlot(from: 0, to: 2)
        cache.lengths[0] = 4
        _ = try engine.step(cache: cache, slots: [0], tokens: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]])
        #expect(cache.sharedPositions == [0, 0, 0])
        let logits = try engine.step(cache: cache, slots: [1, 2], tokens: [[5], [5]])
        #expect(Self.row(logits, 0) == Self.row(logits, 1))
        // A copy onto a source slot, and a reset, also end the sharing.
        cache.shareSlot(from: 1, to: 0)
        #expect(cache.sources == [1, 1, 2])
        cache.copySlot(from: 2, to: 1)
        #expect(cache.sources == [0, 1, 2])
        cache.shareSlot(from: 1, to: 2)
        cache.reset()
        #expect(cache.sharedPositions == [0, 0, 0] && cache.sources == [0, 1, 2] && cache.lengths == [0, 0, 0])
    }

    /// A prompt shorter than one key block has nothing to share: the slot gets a copy.
    @Test func shortPromptsAreCopied() throws {
        let engine = try GenerationModel(model: try Self.model(seed: 5))
        let cache = try engine.makeCache(slots: 2, capacity: 20)
        _ = try engine.step(cache: cache, slots: [0], tokens: [[1, 2, 3]])
        cache.shareSlot(from: 0, to: 1)
        #expect(cache.sources == [0, 1] && cache.lengths == [3, 3])
        let logits = try engine.step(cache: cache, slots: [0, 1], tokens: [[6], [6]])
        #expect(Self.row(logits, 0) == Self.row(logits, 1))
    }

    /// An f16 cache: the vectorized attention reads the same rounded keys and values as the reference.
    @Test func float16CacheAttentionMatchesReference() throws {
        let engine = try GenerationModel(model: try Self.model(seed: 6))
        let cache = try engine.makeCache(slots: 3, capacity: 40, precision: .float16)
        #expect(cache.byteCount == 2 * 2 * 3 * 1 * 48 * 32 * 2)
        _ = try engine.step(cache: cache, slots: [0, 2], tokens: [(0..<33).map { ($0 * 2) % 31 }, [4, 5, 6]])
        cache.shareSlot(from: 0, to: 1)
        _ = try engine.step(cache: cache, slots: [0, 1, 2], tokens: [[3], [8], [9]])
        Self.expectAttentionMatchesReference(engine, cache, rows: [(2, 3), (1, 33), (0, 33), (1, 20)], seed: 7)
    }

    /// Generation with f16 keys and values: logits near the f32 cache's, and sharing a prompt equals copying it.
    @Test func float16CacheGenerationIsCloseAndSharesExactly() throws {
        let model = try Self.model(seed: 7)
        let engine = try GenerationModel(model: model)
        let (a, b) = (try engine.makeCache(slots: 1, capacity: 30), try engine.makeCache(slots: 1, capacity: 30, precision: .float16))
        let prompt = (0..<20).map { ($0 * 5 + 2) % 31 }
        var x = try engine.step(cache: a, slots: [0], tokens: [prompt]), y = try engine.step(cache: b, slots: [0], tokens: [prompt])
        for t in 0..<4 {
            #expect(zip(x.storage, y.storage).allSatisfy { abs($0 - $1) <= 1e-2 }, "step \(t)")
            x = try engine.step(cache: a, slots: [0], tokens: [[t + 1]]); y = try engine.step(cache: b, slots: [0], tokens: [[t + 1]])
        }
        let generator = Generator(model: engine)
        generator.keyValuePrecision = .float16
        let batch = (0..<6).map { _ in prompt }
        let options = GenerationOptions(maxNewTokens: 5, sampling: SamplingOptions(temperature: 1), seed: 3)
        let shared = try generator.generate(prompts: batch, options: options)
        generator.sharePromptPrefix = false
        #expect(try generator.generate(prompts: batch, options: options) == shared)
    }
}
