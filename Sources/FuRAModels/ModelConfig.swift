import Foundation
import FuRAFormats
import FuRANN
import FuRATensor

/// The hyperparameters of a causal LM, with the key names of HF `config.json`.
///
/// Covers the registered `ModelFamily`s: Llama 2/3 (with `rope_scaling` of type `llama3`), SmolLM2, Mistral,
/// Qwen2/2.5 (q/k/v biases), Qwen3 (per-head q/k RMSNorm), Phi-3 and Gemma 3 text (sliding-window layers,
/// `query_pre_attn_scalar`). What the family implies is in `ModelConfig+Layers.swift`. Unknown keys in a
/// file are ignored, as transformers does.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var modelType: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    /// Explicit head dimension (Qwen3); nil means hidden_size / num_attention_heads.
    public var headDimOverride: Int?
    public var vocabSize: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling?
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    /// Whether q/k/v projections have biases (Qwen2 style).
    public var attentionBias: Bool
    /// Whether the MLP projections have biases.
    public var mlpBias: Bool
    /// Whether q and k get a per-head RMSNorm before RoPE (Qwen3 style).
    public var qkNorm: Bool
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    /// Keys per query on sliding-window layers (Gemma 3's local layers, every layer of Mistral v0.1 and Phi-3);
    /// families that do not use it (Llama, Qwen2 without `use_sliding_window`) ignore it.
    public var slidingWindow: Int?
    /// Per layer `sliding_attention` or `full_attention`; nil: the family's pattern.
    public var layerTypes: [String]?
    /// The RoPE base of sliding-window layers (`rope_local_base_freq`); nil: the family's default.
    public var localRopeTheta: Double?
    /// Attention scores are scaled by its −½ power (Gemma's `query_pre_attn_scalar`); nil: head_dim.
    public var queryPreAttnScalar: Double?
    /// Gemma 2's tanh soft-capping of attention scores and final logits; not implemented, so `validate`
    /// rejects a config that sets either (Gemma 3 leaves both null).
    public var attentionLogitSoftcapping: Double?
    public var finalLogitSoftcapping: Double?

    /// Llama 3 style frequency scaling of RoPE.
    public struct RopeScaling: Codable, Equatable, Sendable {
        public var ropeType: String
        public var factor: Double
        public var lowFreqFactor: Double?
        public var highFreqFactor: Double?
        public var originalMaxPositionEmbeddings: Int?

        public init(ropeType: String, factor: Double, lowFreqFactor: Double? = nil, highFreqFactor: Double? = nil,
                    originalMaxPositionEmbeddings: Int? = nil) {
            self.ropeType = ropeType; self.factor = factor; self.lowFreqFactor = lowFreqFactor
            self.highFreqFactor = highFreqFactor; self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        }

        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", type, factor
            case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType) ?? c.decodeIfPresent(String.self, forKey: .type) ?? "default"
            factor = try c.decodeIfPresent(Double.self, forKey: .factor) ?? 1
            lowFreqFactor = try c.decodeIfPresent(Double.self, forKey: .lowFreqFactor)
            highFreqFactor = try c.decodeIfPresent(Double.self, forKey: .highFreqFactor)
            originalMaxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ropeType, forKey: .ropeType)
            try c.encode(factor, forKey: .factor)
            try c.encodeIfPresent(lowFreqFactor, forKey: .lowFreqFactor)
            try c.encodeIfPresent(highFreqFactor, forKey: .highFreqFactor)
            try c.encodeIfPresent(originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        }
    }

    public init(
        modelType: String = "llama", hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
        numAttentionHeads: Int, numKeyValueHeads: Int? = nil, headDim: Int? = nil, vocabSize: Int,
        rmsNormEps: Double = 1e-5, ropeTheta: Double = 10000, ropeScaling: RopeScaling? = nil,
        maxPositionEmbeddings: Int = 2048, tieWordEmbeddings: Bool = false, attentionBias: Bool = false,
        mlpBias: Bool = false, qkNorm: Bool = false, bosTokenId: Int? = nil, eosTokenId: Int? = nil,
        slidingWindow: Int? = nil, layerTypes: [String]? = nil, localRopeTheta: Double? = nil, queryPreAttnScalar: Double? = nil
    ) {
        self.modelType = modelType; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads; self.headDimOverride = headDim
        self.vocabSize = vocabSize; self.rmsNormEps = rmsNormEps; self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling; self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings; self.attentionBias = attentionBias; self.mlpBias = mlpBias
        self.qkNorm = qkNorm; self.bosTokenId = bosTokenId; self.eosTokenId = eosTokenId
        self.slidingWindow = slidingWindow; self.layerTypes = layerTypes; self.localRopeTheta = localRopeTheta
        self.queryPreAttnScalar = queryPreAttnScalar
    }

    /// The per-head dimension.
    public var headDim: Int { headDimOverride ?? hiddenSize / max(1, numAttentionHeads) }

    /// The attention head shape for head-aware factorizations.
    public var headShape: HeadShape { HeadShape(numHeads: numAttentionHeads, numKeyValueHeads: numKeyValueHeads, headDim: headDim) }

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDimOverride = "head_dim", vocabSize = "vocab_size"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", ropeScaling = "rope_scaling"
        case maxPositionEmbeddings = "max_position_embeddings", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", qkNorm = "qk_norm"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case slidingWindow = "sliding_window", layerTypes = "layer_types", localRopeTheta = "rope_local_base_freq"
        case queryPreAttnScalar = "query_pre_attn_scalar"
        case attentionLogitSoftcapping = "attn_logit_softcapping", finalLogitSoftcapping = "final_logit_softcapping"
    }

    enum ExtraKeys: String, CodingKey { case ropeParameters = "rope_parameters" }
    /// transformers 5's `rope_parameters`: flat, or per layer type (Gemma 3).
    struct RopeParameters: Decodable {
        struct Theta: Decodable {
            var ropeTheta: Double?
            enum CodingKeys: String, CodingKey { case ropeTheta = "rope_theta" }
        }
        var ropeTheta: Double?
        var fullAttention: Theta?
        var slidingAttention: Theta?
        enum CodingKeys: String, CodingKey {
            case ropeTheta = "rope_theta", fullAttention = "full_attention", slidingAttention = "sliding_attention"
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "llama"
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads
        headDimOverride = try c.decodeIfPresent(Int.self, forKey: .headDimOverride)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        rmsNormEps = try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? 1e-6
        // transformers 5 writes `rope_parameters` {rope_theta, rope_type, factor, …} instead.
        let extra = try decoder.container(keyedBy: ExtraKeys.self)
        let parameters = try? extra.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? parameters?.ropeTheta
            ?? parameters?.fullAttention?.ropeTheta ?? 10000
        localRopeTheta = try c.decodeIfPresent(Double.self, forKey: .localRopeTheta) ?? parameters?.slidingAttention?.ropeTheta
        ropeScaling = (try? c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling))
            ?? (try? extra.decodeIfPresent(RopeScaling.self, forKey: .ropeParameters)).flatMap { $0.ropeType == "default" ? nil : $0 }
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        // The family knows what its configs leave out (Qwen2's q/k/v biases, Qwen3's q/k norms).
        let family = ModelFamily.named(modelType) ?? .llama
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? family.defaultAttentionBias
        mlpBias = try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? false
        qkNorm = try c.decodeIfPresent(Bool.self, forKey: .qkNorm) ?? family.defaultQKNorm
        bosTokenId = try? c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        eosTokenId = try? c.decodeIfPresent(Int.self, forKey: .eosTokenId)
        slidingWindow = try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
        layerTypes = try c.decodeIfPresent([String].self, forKey: .layerTypes)
        queryPreAttnScalar = try c.decodeIfPresent(Double.self, forKey: .queryPreAttnScalar)
        attentionLogitSoftcapping = try c.decodeIfPresent(Double.self, forKey: .attentionLogitSoftcapping)
        finalLogitSoftcapping = try c.decodeIfPresent(Double.self, forKey: .finalLogitSoftcapping)
    }

    /// Reads and validates `config.json`.
    public static func load(contentsOf url: URL) throws -> ModelConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelConfigError.unreadable(path: url.path, reason: ErrorText.file(error))
        }
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: data) } catch {
            throw ModelConfigError.malformed(path: url.path, reason: ErrorText.decoding(error))
        }
        try config.validate(source: url.path)
        return config
    }


    /// The largest sizes a config may state (Llama-3-405B: width 16384, MLP 53248, 126 layers, 128 heads, vocab 128256).
    public static let limits = (width: 1 << 18, layers: 1024, heads: 1024, headDim: 4096, vocabulary: 1 << 23)

    /// Checks that the numbers describe a buildable model.
    public func validate(source: String = "config") throws {
        func require(_ ok: Bool, _ field: String, _ value: Any, _ reason: String) throws {
            if !ok { throw ModelConfigError.invalid(path: source, field: field, value: "\(value)", reason: reason) }
        }
        try require(ModelFamily.named(modelType) != nil, "model_type", modelType, "is not a supported architecture (supported: \(ModelFamily.supportedModelTypes))")
        try require(hiddenSize > 0, "hidden_size", hiddenSize, "must be positive")
        try require(intermediateSize > 0, "intermediate_size", intermediateSize, "must be positive")
        try require(numHiddenLayers > 0, "num_hidden_layers", numHiddenLayers, "must be positive")
        try require(numAttentionHeads > 0, "num_attention_heads", numAttentionHeads, "must be positive")
        try require(numKeyValueHeads > 0 && numAttentionHeads % numKeyValueHeads == 0, "num_key_value_heads",
                    numKeyValueHeads, "must divide num_attention_heads (\(numAttentionHeads))")
        try require(headDimOverride != nil || hiddenSize % numAttentionHeads == 0, "hidden_size", hiddenSize,
                    "must be a multiple of num_attention_heads (\(numAttentionHeads)) when head_dim is not given")
        // Upper bounds far above any published model: a corrupt header is refused here, before anything the sizes
        // imply is allocated, and every product of two of them fits an Int.
        for (field, value, limit) in [("hidden_size", hiddenSize, Self.limits.width), ("intermediate_size", intermediateSize, Self.limits.width),
                                      ("num_hidden_layers", numHiddenLayers, Self.limits.layers), ("num_attention_heads", numAttentionHeads, Self.limits.heads),
                                      ("head_dim", headDim, Self.limits.headDim), ("vocab_size", vocabSize, Self.limits.vocabulary)] {
            try require(value <= limit, field, value, "is larger than \(limit), the most this reader accepts (a damaged or mistyped config?)")
        }
        try require(headDim > 0 && headDim % 2 == 0, "head_dim", headDim, "must be even and positive for rotary embeddings")
        try require(vocabSize > 0, "vocab_size", vocabSize, "must be positive")
        // NaN and infinities (a GGUF float can hold them) would poison every activation silently.
        try require(rmsNormEps.isFinite && rmsNormEps > 0, "rms_norm_eps", rmsNormEps, "must be a positive finite number")
        try require(ropeTheta.isFinite && ropeTheta > 0, "rope_theta", ropeTheta, "must be a positive finite number")
        if let t = localRopeTheta { try require(t.isFinite && t > 0, "rope_local_base_freq", t, "must be a positive finite number") }
        if let r = ropeScaling {
            for (field, value) in [("factor", r.factor), ("low_freq_factor", r.lowFreqFactor), ("high_freq_factor", r.highFreqFactor)] {
                if let value { try require(value.isFinite && value > 0, "rope_scaling.\(field)", value, "must be a positive finite number") }
            }
        }
        if let w = slidingWindow { try require(w > 0, "sliding_window", w, "must be positive") }
        if let types = layerTypes {
            try require(types.count == numHiddenLayers, "layer_types", types.count, "entries; need one per layer (\(numHiddenLayers))")
            let bad = types.first { $0 != "sliding_attention" && $0 != "full_attention" }
            try require(bad == nil, "layer_types", bad ?? "", "is not sliding_attention or full_attention")
            try require(slidingWindow != nil || !types.contains("sliding_attention"), "sliding_window", "null", "is needed by sliding_attention layers")
        }
        if let s = queryPreAttnScalar { try require(s.isFinite && s > 0, "query_pre_attn_scalar", s, "must be a positive finite number") }
        for (field, value) in [("attn_logit_softcapping", attentionLogitSoftcapping), ("final_logit_softcapping", finalLogitSoftcapping)] {
            try require(value == nil, field, value ?? 0, "is not supported (logit soft-capping is not implemented; expected null)")
        }
    }
}

/// Errors reading or validating a model configuration.
public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case invalid(path: String, field: String, value: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read the model config: \(reason)"
        case let .malformed(path, reason): return "\(path): not a valid HF config.json: \(reason)"
        case let .invalid(path, field, value, reason): return "\(path): \(field) = \(ErrorText.shortened(value)) \(reason)"
        }
    }
}
