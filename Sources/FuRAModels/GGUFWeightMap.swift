import FuRAFormats
import FuRATensor

/// llama.cpp's GGUF conventions: metadata → `ModelConfig`, tensor names → HF names (the family's map),
/// and the inverse of the q/k row permutation that `convert_hf_to_gguf` applies to some families.
public enum GGUFWeightMap {
    /// Architectures whose GGUF layout we read (`general.architecture`).
    public static var architectures: [String] { ModelFamily.registered.map(\.ggufArchitecture) }

    /// Builds the config from `<arch>.*` metadata; vocabulary from the tokenizer list (or the embedding).
    public static func config(of file: GGUFFile) throws -> ModelConfig {
        let m = file.metadata
        guard let arch = m["general.architecture"]?.asString else {
            throw ModelError.unsupported(source: file.path, what: "GGUF", reason: "general.architecture is missing")
        }
        guard let family = ModelFamily.forGGUF(architecture: arch) else {
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
            modelType: family.modelType, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            numHiddenLayers: try int("block_count"), numAttentionHeads: heads,
            numKeyValueHeads: m[arch + ".attention.head_count_kv"]?.asInt ?? heads,
            headDim: keyLength.flatMap { $0 == hidden / max(1, heads) ? nil : $0 }, vocabSize: vocab,
            rmsNormEps: m[arch + ".attention.layer_norm_rms_epsilon"]?.asDouble ?? 1e-5,
            ropeTheta: m[arch + ".rope.freq_base"]?.asDouble ?? 10000, ropeScaling: scaling,
            maxPositionEmbeddings: m[arch + ".context_length"]?.asInt ?? 2048,
            tieWordEmbeddings: file.tensorInfo(named: "output.weight") == nil,
            attentionBias: file.tensorInfo(named: "blk.0.attn_q.bias") != nil,
            qkNorm: file.tensorInfo(named: "blk.0.attn_q_norm.weight") != nil,
            bosTokenId: m["tokenizer.ggml.bos_token_id"]?.asInt, eosTokenId: m["tokenizer.ggml.eos_token_id"]?.asInt,
            slidingWindow: m[arch + ".attention.sliding_window"]?.asInt)
        // GGUF keeps only the window; the layer pattern, local RoPE base and score scale are the family's
        // (llama.cpp scales by 1/√key_length). Written out so that a merged config.json says them.
        var resolved = config
        if let pattern = family.defaultSlidingWindowPattern, !family.slidingWindowOnEveryLayer, config.slidingWindow != nil {
            resolved.layerTypes = (0..<config.numHiddenLayers).map { ($0 + 1) % pattern == 0 ? "full_attention" : "sliding_attention" }
            resolved.localRopeTheta = family.defaultLocalRopeTheta
            resolved.queryPreAttnScalar = Double(config.headDim)
        }
        try resolved.validate(source: file.path)
        return resolved
    }

    /// The GGUF name of an HF tensor name under `family` (Llama's names by default).
    public static func ggufName(ofHF name: String, family: ModelFamily = .llama) -> String? { family.ggufName(ofHF: name) }

    /// The HF name of a GGUF tensor name under `family` (Llama's names by default).
    public static func hfName(ofGGUF name: String, family: ModelFamily = .llama) -> String? { family.hfName(ofGGUF: name) }

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

    /// Builds the causal LM from a GGUF file: dequantizes each tensor, renames it, un-permutes q and k
    /// where the family's converter permuted them, and removes the offset it added to norm weights.
    public static func model(from file: GGUFFile, config: ModelConfig, deferProjections: Bool = false) throws -> CausalLM {
        let family = config.family
        var divisors: [Double]?
        if file.tensorInfo(named: "rope_freqs.weight") != nil {
            divisors = try file.tensor(named: "rope_freqs.weight").storage.map(Double.init)
        }
        var scaled = config
        if divisors != nil { scaled.ropeScaling = nil }  // the divisors already encode it
        let stored: (String) throws -> Tensor? = { name in
            guard let g = family.ggufName(ofHF: name), file.tensorInfo(named: g) != nil else { return nil }
            var t = try file.tensor(named: g)
            if let heads = family.permutedHeads(ofHF: name, config: config) { return try unpermuteRows(t, heads: heads) }
            if family.ggufNormOffset != 0 && ModelFamily.isNormWeight(name) {
                for i in 0..<t.count { t.storage[i] -= family.ggufNormOffset }
            }
            return t
        }
        return try CausalLM(config: scaled, source: file.path, ropeFrequencyDivisors: divisors, deferProjections: deferProjections,
                            tensor: family.splittingFused(stored, config: config))
    }
}
