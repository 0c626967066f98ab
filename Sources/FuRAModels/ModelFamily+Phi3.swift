extension ModelFamily {
    /// Phi-3: Llama's layer with fused `qkv_proj` and `gate_up_proj` in the checkpoint (GGUF `attn_qkv`,
    /// and `ffn_up` holding gate then up), `sliding_window` (when set) on every layer.
    public static let phi3 = ModelFamily(
        modelType: "phi3", className: "Phi3ForCausalLM", ggufArchitecture: "phi3", projectionLayout: .fused,
        slidingWindowOnEveryLayer: true,
        blockTensorNames: [
            .init("attn_norm.weight", "input_layernorm.weight"), .init("ffn_norm.weight", "post_attention_layernorm.weight"),
            .init("attn_qkv.weight", "self_attn.qkv_proj.weight"), .init("attn_output.weight", "self_attn.o_proj.weight"),
            .init("ffn_up.weight", "mlp.gate_up_proj.weight"), .init("ffn_down.weight", "mlp.down_proj.weight"),
        ])
}
