import FuRAModels
import FuRANN

/// The fine-tuning methods a plan can describe.
public enum PlanMethod: String, Codable, Sendable, CaseIterable {
    case fura, svd, lora, dora, full, qfura, qlora, qdora

    /// Whether frozen projection weights are stored in NF4 (spec §3.2).
    public var quantized: Bool { self == .qfura || self == .qlora || self == .qdora }
}

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
        /// Activations kept for backward for batch × sequence tokens (estimate, f32, no checkpointing).
        public var activations: Int
        public var total: Int { frozenWeights + trainableWeights + gradients + optimizerMoments + activations }

        enum CodingKeys: String, CodingKey {
            case frozenWeights = "frozen_weights", trainableWeights = "trainable_weights", gradients
            case optimizerMoments = "optimizer_moments", activations, total
        }

        public init(frozenWeights: Int, trainableWeights: Int, gradients: Int, optimizerMoments: Int, activations: Int) {
            self.frozenWeights = frozenWeights; self.trainableWeights = trainableWeights; self.gradients = gradients
            self.optimizerMoments = optimizerMoments; self.activations = activations
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            frozenWeights = try c.decode(Int.self, forKey: .frozenWeights)
            trainableWeights = try c.decode(Int.self, forKey: .trainableWeights)
            gradients = try c.decode(Int.self, forKey: .gradients)
            optimizerMoments = try c.decode(Int.self, forKey: .optimizerMoments)
            activations = try c.decode(Int.self, forKey: .activations)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(frozenWeights, forKey: .frozenWeights)
            try c.encode(trainableWeights, forKey: .trainableWeights)
            try c.encode(gradients, forKey: .gradients)
            try c.encode(optimizerMoments, forKey: .optimizerMoments)
            try c.encode(activations, forKey: .activations)
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

    /// NF4 with double quantization: 4 + 8/64 + 32/(64·256) bits per parameter (spec §3.2).
    public static let nf4BitsPerParameter = 4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0)

    /// The projections of one decoder layer: (slot, O, I, has bias).
    static func projections(_ c: ModelConfig, layer: Int) -> [(slot: String, out: Int, in: Int, bias: Bool)] {
        let q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim
        let attn = "model.layers.\(layer).self_attn.", mlp = "model.layers.\(layer).mlp."
        return [
            (attn + "q_proj", q, c.hiddenSize, c.attentionBias), (attn + "k_proj", kv, c.hiddenSize, c.attentionBias),
            (attn + "v_proj", kv, c.hiddenSize, c.attentionBias), (attn + "o_proj", c.hiddenSize, q, false),
            (mlp + "gate_proj", c.intermediateSize, c.hiddenSize, c.mlpBias), (mlp + "up_proj", c.intermediateSize, c.hiddenSize, c.mlpBias),
            (mlp + "down_proj", c.hiddenSize, c.intermediateSize, c.mlpBias),
        ]
    }

    /// The plan of fine-tuning `config` with `method`.
    ///
    /// - Parameters: `conversion` holds the FuRA/SVD options (its `method` is overridden by `method`);
    ///   `lora` the LoRA-family settings; `batchSize` × `seqLen` tokens for the activation estimate.
    public static func make(config: ModelConfig, method: PlanMethod, conversion: ConversionOptions = ConversionOptions(),
                            lora: LoRAPlanOptions = LoRAPlanOptions(), batchSize: Int = 1, seqLen: Int = 512) throws -> ParameterPlan {
        try config.validate()
        guard batchSize > 0, seqLen > 0 else {
            throw ConversionError.invalidValue(module: nil, option: batchSize > 0 ? "seq_len" : "batch_size",
                                               value: "\(batchSize > 0 ? seqLen : batchSize)", expected: "a positive integer")
        }
        var options = conversion
        if method == .svd, options.method != .svd { options = ConversionOptions(method: .svd) }
        options.method = method == .svd ? .svd : .fura
        try options.validate()
        if method == .lora || method == .dora || method == .qlora || method == .qdora, lora.r <= 0 {
            throw ConversionError.invalidValue(module: nil, option: "lora_r", value: "\(lora.r)", expected: "a positive integer")
        }
        let targets: Set<String>
        switch method {
        case .lora, .dora, .qlora, .qdora: targets = try ConversionOptions.leaves(of: lora.targetModules)
        case .full: targets = []
        default: targets = try options.targetLeaves()
        }

        var trainable = 0, total = 0, quantized = 0
        var lines: [String: ModuleLine] = [:]
        var order: [String] = []
        for layer in 0..<config.numHiddenLayers {
            for p in projections(config, layer: layer) {
                let leaf = p.slot.leafName
                let biasCount = p.bias ? p.out : 0
                var line = ModuleLine(leaf: leaf, count: 1, denseShape: [p.out, p.in], geometry: nil, trainable: 0, frozen: 0)
                var q = 0
                if method == .full {
                    line.trainable = p.out * p.in + biasCount
                } else if !targets.contains(leaf) {
                    line.frozen = p.out * p.in + biasCount
                    if method == .qlora || method == .qdora { q = p.out * p.in }
                } else {
                    switch method {
                    case .fura, .qfura:
                        let lo = try options.layerOptions(slot: p.slot, inFeatures: p.in, outFeatures: p.out, headShape: config.headShape)
                        let g = try lo.geometry(inFeatures: p.in, outFeatures: p.out, module: p.slot)
                        let target = try g.mergeTarget(lo.sMergedTo, trainPosition: lo.trainPosition, convertMode: lo.convertMode, module: p.slot)
                        let sides = g.trainableSides(lo.trainPosition)
                        let sCount = target.keepsSingularValues ? g.singularCount : 0
                        let trainS = target == .keepTrainable
                        line.geometry = g
                        line.trainable = (sides.left ? g.leftCount : 0) + (sides.right ? g.rightCount : 0) + (trainS ? sCount : 0)
                            + (options.trainBias ? biasCount : 0)
                        line.frozen = (sides.left ? 0 : g.leftCount) + (sides.right ? 0 : g.rightCount) + (trainS ? 0 : sCount)
                            + (options.trainBias ? 0 : biasCount)
                        if method == .qfura {
                            guard sides.left != sides.right else {
                                throw ConversionError.incompatible(module: p.slot, option: "train_position", value: lo.trainPosition.rawValue,
                                                                   reason: "qfura quantizes the one frozen core; it needs exactly one trainable core (small or large)")
                            }
                            q = sides.left ? g.rightCount : g.leftCount
                        }
                    case .svd:
                        let position = try options.svdTrainPosition()
                        let r = min(p.in, p.out)
                        let target = SVDLayer.mergeTarget(options.sMergedTo, trainPosition: position)
                        let a = p.out * r, b = r * p.in, s = target.keepsSingularValues ? r : 0
                        let trainS = target == .keepTrainable
                        line.trainable = (position != .input ? a : 0) + (position != .output ? b : 0) + (trainS ? s : 0)
                            + (options.trainBias ? biasCount : 0)
                        line.frozen = a + b + s + biasCount - line.trainable
                    case .lora, .qlora, .dora, .qdora:
                        line.trainable = lora.r * (p.in + p.out) + (method == .dora || method == .qdora ? p.out : 0)
                        line.frozen = p.out * p.in + biasCount
                        if method.quantized { q = p.out * p.in }
                    case .full: break
                    }
                }
                trainable += line.trainable
                total += line.trainable + line.frozen
                quantized += q
                if var existing = lines[leaf] {
                    existing.count += 1
                    lines[leaf] = existing
                } else {
                    lines[leaf] = line
                    order.append(leaf)
                }
            }
        }
        // Embeddings, norms, LM head.
        let c = config
        let embed = c.vocabSize * c.hiddenSize
        let head = c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize
        let norms = c.numHiddenLayers * (2 * c.hiddenSize + (c.qkNorm ? 2 * c.headDim : 0)) + c.hiddenSize
        let other = embed + head + norms
        total += other
        if method == .full || ((method == .fura || method == .qfura) && (try? options.bttTrainPosition()) == .both) {
            trainable = total   // FuRA (full) and full fine-tuning train everything.
        } else if method == .svd, (try? options.svdTrainPosition()) == .both {
            trainable += embed + head
        }
        let frozen = total - trainable
        let nf4Bytes = Int((Double(quantized) * nf4BitsPerParameter / 8).rounded(.up))
        let memory = Memory(frozenWeights: (frozen - quantized) * 4 + nf4Bytes, trainableWeights: trainable * 4,
                            gradients: trainable * 4, optimizerMoments: trainable * 8,
                            activations: activationBytes(c, method: method, loraRank: lora.r, loraTargets: targets.count,
                                                         batchSize: batchSize, seqLen: seqLen))
        return ParameterPlan(method: method, trainableParameters: trainable, totalParameters: total, quantizedParameters: quantized,
                             modules: order.map { lines[$0]! }, batchSize: batchSize, seqLen: seqLen, memoryBytes: memory)
    }

    init(method: PlanMethod, trainableParameters: Int, totalParameters: Int, quantizedParameters: Int, modules: [ModuleLine],
         batchSize: Int, seqLen: Int, memoryBytes: Memory) {
        self.method = method; self.trainableParameters = trainableParameters; self.totalParameters = totalParameters
        self.quantizedParameters = quantizedParameters; self.modules = modules; self.batchSize = batchSize; self.seqLen = seqLen
        self.memoryBytes = memoryBytes
    }

    /// f32 activations a decoder keeps for backward, per token: per layer the two norm inputs and outputs (4C),
    /// q, k, v and the attention output (2·H·hd + 2·KV·hd), the attention probabilities (H·T), gate, up and the
    /// down input (3·I), plus r per LoRA target; then logits and their gradient (2V).
    static func activationBytes(_ c: ModelConfig, method: PlanMethod, loraRank: Int, loraTargets: Int, batchSize: Int, seqLen: Int) -> Int {
        let hd = c.headDim
        var perTokenLayer = 4 * c.hiddenSize + 2 * c.numAttentionHeads * hd + 2 * c.numKeyValueHeads * hd
            + c.numAttentionHeads * seqLen + 3 * c.intermediateSize
        if method == .lora || method == .dora || method == .qlora || method == .qdora { perTokenLayer += loraRank * loraTargets }
        let perToken = c.numHiddenLayers * perTokenLayer + 2 * c.vocabSize
        return 4 * batchSize * seqLen * perToken
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
