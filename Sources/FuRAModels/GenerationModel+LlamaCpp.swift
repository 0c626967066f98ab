import Foundation
import FuRAFormats
import FuRANN
import FuRATensor

// Legend: N rows (new tokens of all sequences of one step, packed), C model dim, H query heads,
// G key/value heads, D head dim.

/// The generation forward in llama.cpp's arithmetic (`GenerationWeightPrecision.llamaCpp`): the same layer loop
/// (`blockForward`) with llama.cpp's steps where its x86-64 CPU backend computes differently — RMS norms, rope and
/// SwiGLU from `GGMLElementwise`, the file's blocks multiplied by `GGMLBlockMatrix`, and the attention of
/// GenerationModel+LlamaCppAttention.swift. Each step was checked value for value against llama.cpp's own tensors.
extension GenerationModel {
    /// Refuses models whose layers hold parts this path does not reproduce.
    static func checkLlamaCppArithmetic(_ model: CausalLM) throws {
        func refuse(_ what: String) -> GenerationError {
            .invalidOption(option: "precision", value: GenerationWeightPrecision.llamaCpp.rawValue,
                           reason: "reproduces llama.cpp for Llama-family layers only; this model has \(what) (use f32 or gguf)")
        }
        for block in model.blocks {
            if block.qNorm != nil || block.kNorm != nil { throw refuse("q/k norms") }
            if block.attentionOutputNorm != nil || block.mlpOutputNorm != nil { throw refuse("sandwich norms") }
            if block.inputNorm.form != .weight || block.postAttentionNorm.form != .weight { throw refuse("1 + w norms") }
            if block.mlp.activation != .silu { throw refuse("a \(block.mlp.activation.rawValue) MLP") }
            if block.attention.window != nil { throw refuse("sliding-window attention") }
            if block.rope.scaling != nil { throw refuse("Llama 3 rope scaling given as such") }
            let biased = [block.qProj, block.kProj, block.vProj, block.oProj].contains { ($0 as? DenseLinear)?.bias != nil }
            if biased { throw refuse("projection biases") }
        }
        if model.finalNorm.form != .weight { throw refuse("a 1 + w final norm") }
    }

    /// llama.cpp evaluates a long prompt of one sequence in micro-batches of 512 tokens (`n_ubatch`), and which
    /// kernels run depends on the batch: one sequence's tokens in those pieces, nil when one step does it.
    static func llamaCppMicroBatches(_ tokens: [[Int]]) -> [[Int]]? {
        let size = 512
        guard tokens.count == 1, tokens[0].count > size else { return nil }
        return stride(from: 0, to: tokens[0].count, by: size).map { Array(tokens[0][$0..<min($0 + size, tokens[0].count)]) }
    }

    /// Rope tables as `ggml_rope_cache_init` makes them.
    static func llamaCppRopeTables(_ rope: RotaryEmbedding, positions: Int) -> (cos: [Float], sin: [Float]) {
        GGMLElementwise.ropeTables(positions: positions, headDim: rope.headDim, theta: Float(rope.theta),
                                   divisors: rope.frequencyDivisors?.map { Float($0) })
    }

    /// x (N, C) through `norm` as `ggml_rms_norm` then `ggml_mul`.
    static func rmsNormLikeLlamaCpp(_ x: Tensor, _ norm: RMSNorm) -> Tensor {
        let w = norm.weight.value.storage
        return x.withUnsafeBufferPointer { px in
            Tensor.filled(x.shape) { GGMLElementwise.rmsNorm(px.baseAddress!, rows: x.count / max(1, w.count), weight: w, epsilon: norm.epsilon, into: $0) }
        }
    }
}
