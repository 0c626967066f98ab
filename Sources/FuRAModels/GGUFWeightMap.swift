import FuRAFormats
import FuRATensor

/// llama.cpp's GGUF conventions for Llama-family models: metadata → `ModelConfig`, tensor names →
/// HF names, and the inverse of the q/k row permutation that `convert_hf_to_gguf` applies for `llama`.
public enum GGUFWeightMap {
    /// Architectures whose GGUF layout we read (`general.architecture`).
    public static let architectures = ["llama", "qwen2", "qwen3", "mistral"]

    /// Builds the config from `<arch>.*` metadata; vocabulary from the tokenizer list (or the embedding).
    public static func config(of file: GGUFFile) throws -> ModelConfig {
        let m = file.metadata
        guard let arch = m["general.architecture"]?.asString else {
            throw ModelError.unsupported(source: file.path, what: "GGUF", reason: "general.architecture is missing")
        }
        guard architectures.contains(arch) else {
            throw ModelError.unsupported(source: file.path, what: "architecture \(arch)", reason: "supported: \(architectures.joined(separator: ", "))")
        }
        func int(_ key: String) throws -> Int {
            guard let v = m[arch + "." + key]?.asInt else { throw ModelError.unsupported(source: file.path, what: "GGUF", reason: "metadata \(arch).\(key) is missing or not an integer") }
            return v
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let vocab = m["tokenizer.ggml.tokens"]?.asArray?.count ?? m[arch + ".vocab_size"]?.asInt
            ?? file.tensorInfo(named: "token_embd.weight")?.shape.first
        guard let vocab else { throw ModelError.missingTensor(source: file.path, tensor: "token_embd.weight") }
        var scaling: ModelConfig.RopeScaling?
        if let type = m[arch + ".rope.scaling.type"]?.asString, type != "none" {
            scaling = .init(ropeType: type, factor: m[arch + ".rope.scaling.factor"]?.asDouble ?? 1,
                            originalMaxPositionEmbeddings: m[arch + ".rope.scaling.original_context_length"]?.asInt)
        }
        let keyLength = m[arch + ".attention.key_length"]?.asInt
        let config = ModelConfig(
            modelType: arch, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            numHiddenLayers: try int("block_count"), numAttentionHeads: heads,
            numKeyValueHeads: m[arch + ".attention.head_count_kv"]?.asInt ?? heads,
            headDim: keyLength.flatMap { $0 == hidden / max(1, heads) ? nil : $0 }, vocabSize: vocab,
            rmsNormEps: m[arch + ".attention.layer_norm_rms_epsilon"]?.asDouble ?? 1e-5,
            ropeTheta: m[arch + ".rope.freq_base"]?.asDouble ?? 10000, ropeScaling: scaling,
            maxPositionEmbeddings: m[arch + ".context_length"]?.asInt ?? 2048,
            tieWordEmbeddings: file.tensorInfo(named: "output.weight") == nil,
            attentionBias: file.tensorInfo(named: "blk.0.attn_q.bias") != nil,
            qkNorm: file.tensorInfo(named: "blk.0.attn_q_norm.weight") != nil,
            bosTokenId: m["tokenizer.ggml.bos_token_id"]?.asInt, eosTokenId: m["tokenizer.ggml.eos_token_id"]?.asInt)
        try config.validate(source: file.path)
        return config
    }

    static let blockNames: [(gguf: String, hf: String)] = [
        ("attn_norm.weight", "input_layernorm.weight"), ("ffn_norm.weight", "post_attention_layernorm.weight"),
        ("attn_q.weight", "self_attn.q_proj.weight"), ("attn_k.weight", "self_attn.k_proj.weight"),
        ("attn_v.weight", "self_attn.v_proj.weight"), ("attn_output.weight", "self_attn.o_proj.weight"),
        ("attn_q.bias", "self_attn.q_proj.bias"), ("attn_k.bias", "self_attn.k_proj.bias"), ("attn_v.bias", "self_attn.v_proj.bias"),
        ("attn_q_norm.weight", "self_attn.q_norm.weight"), ("attn_k_norm.weight", "self_attn.k_norm.weight"),
        ("ffn_gate.weight", "mlp.gate_proj.weight"), ("ffn_up.weight", "mlp.up_proj.weight"), ("ffn_down.weight", "mlp.down_proj.weight"),
    ]

    /// The GGUF name of an HF tensor name (`model.layers.3.mlp.up_proj.weight` → `blk.3.ffn_up.weight`).
    public static func ggufName(ofHF name: String) -> String? {
        switch name {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default: break
        }
        let parts = name.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers", let i = Int(parts[2]) else { return nil }
        return blockNames.first { $0.hf == parts[3] }.map { "blk.\(i).\($0.gguf)" }
    }

    /// The HF name of a GGUF tensor name (inverse of `ggufName(ofHF:)`).
    public static func hfName(ofGGUF name: String) -> String? {
        switch name {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "blk", let i = Int(parts[1]) else { return nil }
        return blockNames.first { $0.gguf == parts[2] }.map { "model.layers.\(i).\($0.hf)" }
    }

    /// Undoes llama.cpp's permutation of q/k rows: within each of `heads` heads of D rows, GGUF row
    /// 2i + s holds HF row s·D/2 + i (s ∈ {0, 1}, i < D/2). w: (heads·D, I) → (heads·D, I).
    public static func unpermuteRows(_ w: Tensor, heads: Int) throws -> Tensor {
        let (rows, columns) = try w.dims2("unpermute q/k")
        guard heads > 0, rows % (2 * heads) == 0 else {
            throw TensorError.invalidArgument(operation: "unpermute q/k", message: "\(rows) rows do not split into \(heads) heads of even size")
        }
        let d = rows / heads, half = d / 2
        var out = Tensor.zeros([rows, columns])
        for h in 0..<heads {
            for i in 0..<half {
                for s in 0..<2 {
                    let src = (h * d + 2 * i + s) * columns, dst = (h * d + s * half + i) * columns
                    out.storage.replaceSubrange(dst..<(dst + columns), with: w.storage[src..<(src + columns)])
                }
            }
        }
        return out
    }

    /// The inverse of `unpermuteRows` (HF → GGUF order), for export and tests.
    public static func permuteRows(_ w: Tensor, heads: Int) throws -> Tensor {
        let (rows, columns) = try w.dims2("permute q/k")
        guard heads > 0, rows % (2 * heads) == 0 else {
            throw TensorError.invalidArgument(operation: "permute q/k", message: "\(rows) rows do not split into \(heads) heads of even size")
        }
        let d = rows / heads, half = d / 2
        var out = Tensor.zeros([rows, columns])
        for h in 0..<heads { for i in 0..<half { for s in 0..<2 {
            let dst = (h * d + 2 * i + s) * columns, src = (h * d + s * half + i) * columns
            out.storage.replaceSubrange(dst..<(dst + columns), with: w.storage[src..<(src + columns)])
        } } }
        return out
    }

    /// Builds the causal LM from a GGUF file: dequantizes each tensor, renames it, un-permutes q and k.
    public static func model(from file: GGUFFile, config: ModelConfig) throws -> CausalLM {
        let permuted = config.modelType == "llama" || config.modelType == "mistral"
        var divisors: [Double]?
        if file.tensorInfo(named: "rope_freqs.weight") != nil {
            divisors = try file.tensor(named: "rope_freqs.weight").storage.map(Double.init)
        }
        var scaled = config
        if divisors != nil { scaled.ropeScaling = nil }  // the divisors already encode it
        return try CausalLM(config: scaled, source: file.path, ropeFrequencyDivisors: divisors) { name in
            guard let g = ggufName(ofHF: name), file.tensorInfo(named: g) != nil else { return nil }
            let t = try file.tensor(named: g)
            if permuted && name.hasSuffix("q_proj.weight") { return try unpermuteRows(t, heads: config.numAttentionHeads) }
            if permuted && name.hasSuffix("k_proj.weight") { return try unpermuteRows(t, heads: config.numKeyValueHeads) }
            return t
        }
    }
}
