import FuRAModels
import FuRANN
import FuRATensor

/// LoRA-family settings for a plan (counts depend on r and the targets only; α is reported).
public struct LoRAPlanOptions: Codable, Equatable, Sendable {
    public var r: Int = 32
    public var alpha: Double = 64
    public var targetModules: [String] = ["all-linear"]
    public init(r: Int = 32, alpha: Double = 64, targetModules: [String] = ["all-linear"]) {
        self.r = r; self.alpha = alpha; self.targetModules = targetModules
    }
    enum CodingKeys: String, CodingKey { case r, alpha, targetModules = "target_modules" }
}

/// Closed-form parameter counts and a memory estimate of fine-tuning a model, from its config alone
/// (no weights, no SVD): the shapes follow from the same resolution code the conversion uses.
public struct ParameterPlan: Codable, Equatable, Sendable {
    /// One projection type (per layer) and what it becomes.
    public struct ModuleLine: Codable, Equatable, Sendable {
        public var leaf: String
        /// Modules of this type in the model.
        public var count: Int
        /// (O, I).
        public var denseShape: [Int]
        public var geometry: BTTGeometry?
        /// Per module.
        public var trainable: Int
        /// Per module.
        public var frozen: Int
        enum CodingKeys: String, CodingKey { case leaf, count, geometry, trainable, frozen, denseShape = "dense_shape" }
    }

    /// Bytes per component of one training step.
    public struct Memory: Codable, Equatable, Sendable {
        /// Frozen tensors: f32, or NF4 (4.127 bits per parameter) for the quantized part of q-methods.
        public var frozenWeights: Int
        /// Trainable tensors in f32.
        public var trainableWeights: Int
        /// One f32 gradient per trainable parameter.
        public var gradients: Int
        /// AdamW first and second moments in f32.
        public var optimizerMoments: Int
        /// Activations kept for backward for batch × sequence tokens (estimate, f32; with gradient checkpointing the
        /// block inputs and one block's), and one chunk of logits with its gradient.
        public var activations: Int
        /// At `--precision bf16`: the bf16 copies kept beside the f32 weights (the LM head packed for both its
        /// products, and the method's packings of its f32 projection weights, `FineTuningMethod.bf16PackedCopies`).
        public var bf16Packings: Int
        public var total: Int { frozenWeights + trainableWeights + gradients + optimizerMoments + activations + bf16Packings }

        enum CodingKeys: String, CodingKey {
            case frozenWeights = "frozen_weights", trainableWeights = "trainable_weights", gradients
            case optimizerMoments = "optimizer_moments", activations, bf16Packings = "bf16_packings", total
        }

        public init(frozenWeights: Int, trainableWeights: Int, gradients: Int, optimizerMoments: Int, activations: Int, bf16Packings: Int = 0) {
            self.frozenWeights = frozenWeights; self.trainableWeights = trainableWeights; self.gradients = gradients
            self.optimizerMoments = optimizerMoments; self.activations = activations; self.bf16Packings = bf16Packings
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            frozenWeights = try c.decode(Int.self, forKey: .frozenWeights)
            trainableWeights = try c.decode(Int.self, forKey: .trainableWeights)
            gradients = try c.decode(Int.self, forKey: .gradients)
            optimizerMoments = try c.decode(Int.self, forKey: .optimizerMoments)
            activations = try c.decode(Int.self, forKey: .activations)
            bf16Packings = try c.decodeIfPresent(Int.self, forKey: .bf16Packings) ?? 0
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(frozenWeights, forKey: .frozenWeights)
            try c.encode(trainableWeights, forKey: .trainableWeights)
            try c.encode(gradients, forKey: .gradients)
            try c.encode(optimizerMoments, forKey: .optimizerMoments)
            try c.encode(activations, forKey: .activations)
            try c.encode(bf16Packings, forKey: .bf16Packings)
            try c.encode(total, forKey: .total)
        }
    }

    public var method: PlanMethod
    public var trainableParameters: Int
    public var totalParameters: Int
    public var frozenParameters: Int { totalParameters - trainableParameters }
    /// Frozen parameters stored in NF4.
    public var quantizedParameters: Int
    public var modules: [ModuleLine]
    public var batchSize: Int
    public var seqLen: Int
    public var memoryBytes: Memory

    enum CodingKeys: String, CodingKey {
        case method, modules
        case trainableParameters = "trainable_parameters", totalParameters = "total_parameters"
        case frozenParameters = "frozen_parameters", quantizedParameters = "quantized_parameters"
        case batchSize = "batch_size", seqLen = "seq_len", memoryBytes = "memory_bytes"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.decode(PlanMethod.self, forKey: .method)
        trainableParameters = try c.decode(Int.self, forKey: .trainableParameters)
        totalParameters = try c.decode(Int.self, forKey: .totalParameters)
        quantizedParameters = try c.decode(Int.self, forKey: .quantizedParameters)
        modules = try c.decode([ModuleLine].self, forKey: .modules)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        seqLen = try c.decode(Int.self, forKey: .seqLen)
        memoryBytes = try c.decode(Memory.self, forKey: .memoryBytes)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(trainableParameters, forKey: .trainableParameters)
        try c.encode(totalParameters, forKey: .totalParameters)
        try c.encode(frozenParameters, forKey: .frozenParameters)
        try c.encode(quantizedParameters, forKey: .quantizedParameters)
        try c.encode(modules, forKey: .modules)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(seqLen, forKey: .seqLen)
        try c.encode(memoryBytes, forKey: .memoryBytes)
    }

    /// NF4 with double quantization: 4 + 8/64 + 32/(64·256) bits per parameter (Docs/methods.md §10).
    public static let nf4BitsPerParameter = 4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0)

    /// The projections of one decoder layer.
    static func projections(_ c: ModelConfig, layer: Int) -> [PlannedProjection] {
        c.layerProjections.map { p in
            let slot = "model.layers.\(layer).\(p.path)"
            return PlannedProjection(slot: slot, leaf: p.leaf, outFeatures: p.rows, inFeatures: p.columns, hasBias: p.hasBias,
                                     headShape: c.headShape)
        }
    }

    /// The plan of fine-tuning `config` with `method` given as conversion options and LoRA-family settings.
    ///
    /// - Parameters: `conversion` holds the FuRA/SVD options (its `method` is overridden by `method`);
    ///   `lora` the LoRA-family settings; `batchSize` × `seqLen` tokens for the activation estimate.
    public static func make(config: ModelConfig, method: MethodName, conversion: ConversionOptions = ConversionOptions(),
                            lora: LoRAPlanOptions = LoRAPlanOptions(), batchSize: Int = 1, seqLen: Int = 512,
                            gradientCheckpointing: Bool = false, precision: ComputePrecision = .f32) throws -> ParameterPlan {
        guard lora.r > 0 else { throw ConversionError.invalidValue(module: nil, option: "lora_r", value: "\(lora.r)", expected: "a positive integer") }
        let description = AdapterMethod(method: method, lora: LoRAOptions(rank: lora.r, alpha: Float(lora.alpha)),
                                        targetModules: lora.targetModules, conversion: conversion)
        return try make(config: config, method: MethodRegistry.make(adapter: description), batchSize: batchSize, seqLen: seqLen,
                        gradientCheckpointing: gradientCheckpointing, precision: precision)
    }

    /// The plan of fine-tuning `config` with `method`: each projection's counts come from the method.
    /// - Parameters: `gradientCheckpointing` and `precision` as `fura train`'s, for the memory estimate.
    public static func make(config: ModelConfig, method: any FineTuningMethod, batchSize: Int = 1, seqLen: Int = 512,
                            gradientCheckpointing: Bool = false, precision: ComputePrecision = .f32) throws -> ParameterPlan {
        try config.validate()
        guard batchSize > 0, seqLen > 0 else {
            throw ConversionError.invalidValue(module: nil, option: batchSize > 0 ? "seq_len" : "batch_size",
                                               value: "\(batchSize > 0 ? seqLen : batchSize)", expected: "a positive integer")
        }
        var trainable = 0, total = 0, quantized = 0, dense = 0, adapted = Set<String>()
        var lines: [String: ModuleLine] = [:]
        var order: [String] = []
        for layer in 0..<config.numHiddenLayers {
            for p in projections(config, layer: layer) {
                let module = try method.planModule(p)
                if module.trainable > 0 { adapted.insert(p.leaf) }
                trainable += module.trainable
                total += module.trainable + module.frozen
                quantized += module.quantized
                dense += p.outFeatures * p.inFeatures
                if var existing = lines[p.leaf] {
                    existing.count += 1
                    lines[p.leaf] = existing
                } else {
                    lines[p.leaf] = ModuleLine(leaf: p.leaf, count: 1, denseShape: [p.outFeatures, p.inFeatures], geometry: module.geometry,
                                               trainable: module.trainable, frozen: module.frozen)
                    order.append(p.leaf)
                }
            }
        }
        // Embeddings, norms, LM head.
        let c = config
        let embed = c.vocabSize * c.hiddenSize
        let head = c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize
        let layerNorms = c.family.layerNorms
        let normsPerLayer = 2 + (layerNorms.attentionOutput == nil ? 0 : 1) + (layerNorms.mlpOutput == nil ? 0 : 1)
        let norms = c.numHiddenLayers * (normsPerLayer * c.hiddenSize + (c.qkNorm ? 2 * c.headDim : 0)) + c.hiddenSize
        total += embed + head + norms
        switch method.nonProjectionTraining {
        case .all: trainable = total
        case .embeddingsAndHead: trainable += embed + head
        case .none: break
        }
        let frozen = total - trainable
        let nf4Bytes = Int((Double(quantized) * nf4BitsPerParameter / 8).rounded(.up))
        // bf16 pairs: the head for logits and dHidden (two packings, 2 bytes each), the f32 projection weights per method.
        let packings = precision == .bf16 ? 4 * c.vocabSize * c.hiddenSize + 2 * method.bf16PackedCopies * max(0, dense - quantized) : 0
        let memory = Memory(frozenWeights: (frozen - quantized) * 4 + nf4Bytes, trainableWeights: trainable * 4,
                            gradients: trainable * 4, optimizerMoments: trainable * 8,
                            activations: activationBytes(c, extraPerToken: method.activationsPerAdaptedProjection * adapted.count,
                                                         batchSize: batchSize, seqLen: seqLen, gradientCheckpointing: gradientCheckpointing,
                                                         precision: precision),
                            bf16Packings: packings)
        return ParameterPlan(method: method.name, trainableParameters: trainable, totalParameters: total, quantizedParameters: quantized,
                             modules: order.map { lines[$0]! }, batchSize: batchSize, seqLen: seqLen, memoryBytes: memory)
    }

    init(method: PlanMethod, trainableParameters: Int, totalParameters: Int, quantizedParameters: Int, modules: [ModuleLine],
         batchSize: Int, seqLen: Int, memoryBytes: Memory) {
        self.method = method; self.trainableParameters = trainableParameters; self.totalParameters = totalParameters
        self.quantizedParameters = quantizedParameters; self.modules = modules; self.batchSize = batchSize; self.seqLen = seqLen
        self.memoryBytes = memoryBytes
    }

    /// f32 activations a decoder keeps for backward, per token: per layer the two norm inputs and outputs (4C),
    /// q, k, v and the attention output (2·H·hd + 2·KV·hd), each head's softmax max and 1/Σexp (2·H: the backward
    /// recomputes the probabilities, `CausalAttention`), gate, up and the
    /// down input (3·I; at bf16 gate and up are kept in 2 bytes each, `SwiGLU.keepsBFloat16`: 2·I), plus r per LoRA target — every layer's, or with gradient checkpointing each block's input
    /// (C) and one block's; then one chunk of logits and their gradient (`MaskedCrossEntropy.defaultChunkRows` × 2V).
    static func activationBytes(_ c: ModelConfig, extraPerToken: Int, batchSize: Int, seqLen: Int, gradientCheckpointing: Bool,
                                precision: ComputePrecision = .f32) -> Int {
        let hd = c.headDim
        let mlp = (precision == .bf16 ? 2 : 3) * c.intermediateSize
        let perTokenLayer = 4 * c.hiddenSize + 2 * c.numAttentionHeads * hd + 2 * c.numKeyValueHeads * hd
            + 2 * c.numAttentionHeads + mlp + extraPerToken
        let perToken = gradientCheckpointing ? c.numHiddenLayers * c.hiddenSize + perTokenLayer : c.numHiddenLayers * perTokenLayer
        let tokens = batchSize * seqLen
        return 4 * (tokens * perToken + min(tokens, MaskedCrossEntropy.defaultChunkRows) * 2 * c.vocabSize)
    }
}

extension ConversionOptions {
    /// The leaf names a `target_modules` list selects.
    public static func leaves(of targets: [String]) throws -> Set<String> {
        var o = ConversionOptions()
        o.targetModules = targets
        return try o.targetLeaves()
    }
}
