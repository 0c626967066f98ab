import FuRANN

/// What differs between architectures, in one place: names (HF `model_type` and class, GGUF
/// architecture and tensor names), GGUF's q/k row permutation, the MLP activation, the norm form,
/// the embedding scale, the projection layout, the extra norms, sliding-window attention and the
/// defaults a config may leave out.
///
/// The loader, the training model, the generation engine, merge and export ask the family instead
/// of comparing architecture strings. One file per family (`ModelFamily+Llama.swift`, …) builds its
/// value; `ModelFamily+Registry.swift` lists them.
public struct ModelFamily: Sendable, Equatable {
    /// How the attention and MLP input projections are stored in the checkpoint.
    public enum ProjectionLayout: String, Sendable {
        /// `q_proj`, `k_proj`, `v_proj`, `gate_proj`, `up_proj` (Llama).
        case separate
        /// `qkv_proj` (q, k, v rows stacked) and `gate_up_proj` (gate rows, then up rows) (Phi-3).
        case fused
    }

    /// One per-layer tensor under its GGUF and HF names (`attn_q.weight` ↔ `self_attn.q_proj.weight`).
    public struct TensorName: Sendable, Equatable {
        public var gguf: String
        public var hf: String
        public init(_ gguf: String, _ hf: String) { self.gguf = gguf; self.hf = hf }
    }

    /// The HF names (after `model.layers.N.`) of a layer's norms: two, or four with sandwich norms.
    public struct LayerNorms: Sendable, Equatable {
        /// Before attention.
        public var input: String
        /// Before the MLP.
        public var preMLP: String
        /// On the attention output, before the residual add (Gemma); nil when absent.
        public var attentionOutput: String?
        /// On the MLP output, before the residual add (Gemma); nil when absent.
        public var mlpOutput: String?

        public init(input: String, preMLP: String, attentionOutput: String? = nil, mlpOutput: String? = nil) {
            self.input = input; self.preMLP = preMLP; self.attentionOutput = attentionOutput; self.mlpOutput = mlpOutput
        }

        /// Llama's pair: `input_layernorm.weight`, `post_attention_layernorm.weight` (before the MLP).
        public static let llama = LayerNorms(input: "input_layernorm.weight", preMLP: "post_attention_layernorm.weight")
        /// Gemma's four: pre/post around attention and around the MLP.
        public static let sandwich = LayerNorms(input: "input_layernorm.weight", preMLP: "pre_feedforward_layernorm.weight",
                                                attentionOutput: "post_attention_layernorm.weight",
                                                mlpOutput: "post_feedforward_layernorm.weight")
    }

    /// HF `config.json` `model_type` (`llama`).
    public var modelType: String
    /// HF `architectures[0]` (`LlamaForCausalLM`).
    public var className: String
    /// GGUF `general.architecture` (`llama`).
    public var ggufArchitecture: String
    /// Whether llama.cpp's converter permutes the q/k rows of this architecture (rotary pairs interleaved).
    public var permutesQueryKeyInGGUF: Bool
    /// The gated MLP's activation; its raw value is HF's `hidden_act`.
    public var activation: GatedActivation
    /// How a norm's stored weight becomes its gain (w, or 1 + w), for every norm of the model.
    public var normForm: RMSNorm.Form
    /// Whether token embeddings are multiplied by √C (rounded to the weight dtype, as transformers does).
    public var scalesEmbedding: Bool
    public var projectionLayout: ProjectionLayout
    /// The layer's norms; with `attentionOutput`/`mlpOutput` the outputs are normed again before the
    /// residual add (Gemma's sandwich).
    public var layerNorms: LayerNorms
    /// q/k/v biases when `attention_bias` is absent from the config (Qwen2 has them without saying so).
    public var defaultAttentionBias: Bool
    /// Per-head q/k RMSNorm when `qk_norm` is absent (Qwen3, Gemma 3).
    public var defaultQKNorm: Bool
    /// When the config gives no pattern: every n-th layer attends globally, the others over a sliding window.
    public var defaultSlidingWindowPattern: Int?
    /// Whether a config's `sliding_window` applies to every layer (Mistral v0.1, Phi-3); nil there means none.
    public var slidingWindowOnEveryLayer: Bool
    /// The RoPE base of sliding-window layers when the config gives none (global layers use `rope_theta`).
    public var defaultLocalRopeTheta: Double?
    /// GGUF `tokenizer.ggml.pre` written when the tokenizer does not name one.
    public var tokenizerPre: String
    /// What llama.cpp's converter adds to every norm weight (1 for Gemma, which stores 1 + w); the loader subtracts it.
    public var ggufNormOffset: Float
    /// Per-layer tensors (names after `blk.N.` and `model.layers.N.`), in the checkpoint's layout.
    public var blockTensorNames: [TensorName]

    public init(modelType: String, className: String, ggufArchitecture: String, permutesQueryKeyInGGUF: Bool = false,
                activation: GatedActivation = .silu, normForm: RMSNorm.Form = .weight, scalesEmbedding: Bool = false,
                projectionLayout: ProjectionLayout = .separate, layerNorms: LayerNorms = .llama, defaultAttentionBias: Bool = false,
                defaultQKNorm: Bool = false, defaultSlidingWindowPattern: Int? = nil, slidingWindowOnEveryLayer: Bool = false, defaultLocalRopeTheta: Double? = nil,
                tokenizerPre: String = "default", ggufNormOffset: Float = 0, blockTensorNames: [TensorName] = ModelFamily.llamaTensorNames) {
        self.modelType = modelType; self.className = className; self.ggufArchitecture = ggufArchitecture
        self.permutesQueryKeyInGGUF = permutesQueryKeyInGGUF; self.activation = activation; self.normForm = normForm
        self.scalesEmbedding = scalesEmbedding; self.projectionLayout = projectionLayout; self.layerNorms = layerNorms
        self.defaultAttentionBias = defaultAttentionBias; self.defaultQKNorm = defaultQKNorm
        self.defaultSlidingWindowPattern = defaultSlidingWindowPattern; self.defaultLocalRopeTheta = defaultLocalRopeTheta
        self.slidingWindowOnEveryLayer = slidingWindowOnEveryLayer
        self.tokenizerPre = tokenizerPre; self.ggufNormOffset = ggufNormOffset; self.blockTensorNames = blockTensorNames
    }

    /// llama.cpp's names for the tensors of a Llama layer (biases and q/k norms appear when a model has them).
    public static let llamaTensorNames: [TensorName] = [
        .init("attn_norm.weight", "input_layernorm.weight"), .init("ffn_norm.weight", "post_attention_layernorm.weight"),
        .init("attn_q.weight", "self_attn.q_proj.weight"), .init("attn_k.weight", "self_attn.k_proj.weight"),
        .init("attn_v.weight", "self_attn.v_proj.weight"), .init("attn_output.weight", "self_attn.o_proj.weight"),
        .init("attn_q.bias", "self_attn.q_proj.bias"), .init("attn_k.bias", "self_attn.k_proj.bias"),
        .init("attn_v.bias", "self_attn.v_proj.bias"),
        .init("attn_q_norm.weight", "self_attn.q_norm.weight"), .init("attn_k_norm.weight", "self_attn.k_norm.weight"),
        .init("ffn_gate.weight", "mlp.gate_proj.weight"), .init("ffn_up.weight", "mlp.up_proj.weight"),
        .init("ffn_down.weight", "mlp.down_proj.weight"),
    ]

    public static func == (a: ModelFamily, b: ModelFamily) -> Bool { a.modelType == b.modelType }
}
