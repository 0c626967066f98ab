/// Tensor names between HF checkpoints and llama.cpp GGUF files, per family.
extension ModelFamily {
    /// The GGUF name of an HF tensor name (`model.layers.3.mlp.up_proj.weight` → `blk.3.ffn_up.weight`).
    public func ggufName(ofHF name: String) -> String? {
        switch name {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default: break
        }
        let parts = name.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers", let i = Int(parts[2]) else { return nil }
        return blockTensorNames.first { $0.hf == parts[3] }.map { "blk.\(i).\($0.gguf)" }
    }

    /// The HF name of a GGUF tensor name (inverse of `ggufName(ofHF:)`).
    public func hfName(ofGGUF name: String) -> String? {
        switch name {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "blk", let i = Int(parts[1]) else { return nil }
        return blockTensorNames.first { $0.gguf == parts[2] }.map { "model.layers.\(i).\($0.hf)" }
    }

    /// Whether an HF tensor is a norm weight (llama.cpp stores Gemma's with `ggufNormOffset` added).
    public static func isNormWeight(_ hfName: String) -> Bool { hfName.hasSuffix("norm.weight") }

    /// Whether llama.cpp permuted the rows of this HF tensor, and over how many heads.
    public func permutedHeads(ofHF name: String, config: ModelConfig) -> Int? {
        guard permutesQueryKeyInGGUF else { return nil }
        if name.hasSuffix("q_proj.weight") { return config.numAttentionHeads }
        if name.hasSuffix("k_proj.weight") { return config.numKeyValueHeads }
        return nil
    }
}
