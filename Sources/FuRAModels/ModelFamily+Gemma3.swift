extension ModelFamily {
    /// Gemma 3 (text): GeGLU with tanh GELU, norms with gain 1 + w (q/k norms too), embeddings × √C,
    /// per-head q/k norms, four norms per layer, every sixth layer global and the others over a sliding
    /// window with RoPE base 10000, scores scaled by query_pre_attn_scalar^−½, tied head. llama.cpp's
    /// converter stores the norms as 1 + w.
    public static let gemma3 = ModelFamily(
        modelType: "gemma3_text", className: "Gemma3ForCausalLM", ggufArchitecture: "gemma3", activation: .geluTanh,
        normForm: .onePlusWeight, scalesEmbedding: true, layerNorms: .sandwich, defaultQKNorm: true,
        defaultSlidingWindowPattern: 6, defaultLocalRopeTheta: 10000, tokenizerPre: "default", ggufNormOffset: 1,
        blockTensorNames: [
            .init("attn_norm.weight", "input_layernorm.weight"), .init("post_attention_norm.weight", "post_attention_layernorm.weight"),
            .init("ffn_norm.weight", "pre_feedforward_layernorm.weight"), .init("post_ffw_norm.weight", "post_feedforward_layernorm.weight"),
            .init("attn_q.weight", "self_attn.q_proj.weight"), .init("attn_k.weight", "self_attn.k_proj.weight"),
            .init("attn_v.weight", "self_attn.v_proj.weight"), .init("attn_output.weight", "self_attn.o_proj.weight"),
            .init("attn_q_norm.weight", "self_attn.q_norm.weight"), .init("attn_k_norm.weight", "self_attn.k_norm.weight"),
            .init("ffn_gate.weight", "mlp.gate_proj.weight"), .init("ffn_up.weight", "mlp.up_proj.weight"),
            .init("ffn_down.weight", "mlp.down_proj.weight"),
        ])
}
