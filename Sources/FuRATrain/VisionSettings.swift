import Foundation
import FuRAFormats

/// The visual instruction tuning keys of a training run (LLaVA's names), stored flat in the run config. A run is
/// multimodal when `vision_tower` is set; stage 1 trains the projector alone (LLaVA's pretraining), stage 2 the
/// language model's method and the projector at its own learning rate (`BTT_7b.sh`).
public struct VisionSettings: Codable, Equatable, Sendable {
    /// The tower file (ONNX DINOv2 today).
    public var visionTower: String?
    /// Where the records' images are (default: the data file's folder).
    public var imageFolder: String?
    public var imageSize: Int?
    /// `linear` or `mlp2x_gelu`.
    public var mmProjectorType: String?
    /// The projector's learning rate (nil: the run's `lr`).
    public var mmProjectorLr: Double?
    /// A stage-1 `mm_projector.safetensors` (or a run or adapter directory holding one) to start the projector from.
    public var pretrainMmMlpAdapter: String?
    public var stage: Int?
    public var visionSelectLayer: Int?
    public var conversationTemplate: ConversationTemplate?

    public static let defaultImageSize = 224
    public static let defaultProjector = "mlp2x_gelu"
    public static let defaultSelectLayer = -2

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case visionTower = "vision_tower", imageFolder = "image_folder", imageSize = "image_size"
        case mmProjectorType = "mm_projector_type", mmProjectorLr = "mm_projector_lr"
        case pretrainMmMlpAdapter = "pretrain_mm_mlp_adapter", stage, visionSelectLayer = "vision_select_layer"
        case conversationTemplate = "conversation_template"
    }

    /// Every key, snake_case.
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Writes every key, `null` for unset values.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(visionTower, forKey: .visionTower); try c.encode(imageFolder, forKey: .imageFolder)
        try c.encode(imageSize, forKey: .imageSize); try c.encode(mmProjectorType, forKey: .mmProjectorType)
        try c.encode(mmProjectorLr, forKey: .mmProjectorLr); try c.encode(pretrainMmMlpAdapter, forKey: .pretrainMmMlpAdapter)
        try c.encode(stage, forKey: .stage); try c.encode(visionSelectLayer, forKey: .visionSelectLayer)
        try c.encode(conversationTemplate, forKey: .conversationTemplate)
    }

    /// Whether the run reads images.
    public var isMultimodal: Bool { visionTower != nil }
    /// The stage (2 when unset).
    public var resolvedStage: Int { stage ?? 2 }
    /// The template (stage 1: plain; stage 2: the model's chat template).
    public var resolvedTemplate: ConversationTemplate { conversationTemplate ?? (resolvedStage == 1 ? .plain : .chat) }

    /// Checks the keys; errors name the option.
    public func validate() throws {
        func require(_ ok: Bool, _ option: String, _ value: Any?, _ reason: String) throws {
            if !ok { throw TrainingError.invalidOption(option: option, value: value.map { "\($0)" } ?? "nil", reason: reason) }
        }
        if !isMultimodal {
            let set = [imageFolder as Any?, imageSize, mmProjectorType, mmProjectorLr, pretrainMmMlpAdapter, stage, visionSelectLayer,
                       conversationTemplate].contains { $0 != nil }
            try require(!set, "vision_tower", nil, "the image options need a vision tower (--vision-tower FILE)")
            return
        }
        try require(stage.map { $0 == 1 || $0 == 2 } ?? true, "stage", stage, "must be 1 (projector only) or 2 (language model and projector)")
        try require(imageSize.map { $0 >= 14 && $0 <= 1024 } ?? true, "image_size", imageSize, "must be in 14…1024 (a multiple of the tower's patch)")
        try require(mmProjectorType.map { ["linear", "mlp2x_gelu"].contains($0) } ?? true, "mm_projector_type", mmProjectorType,
                    "expected linear or mlp2x_gelu")
        try require(mmProjectorLr.map { $0 > 0 && $0.isFinite } ?? true, "mm_projector_lr", mmProjectorLr, "must be positive")
        try require(visionSelectLayer.map { $0 != 0 && abs($0) <= 64 } ?? true, "vision_select_layer", visionSelectLayer,
                    "a layer counted from the end (−1, −2, …) or from 1")
    }
}

extension TrainConfig {
    /// The recipe of a visual instruction stage over the method's defaults: LLaVA's pretraining for stage 1 (lr 1e-3),
    /// `BTT_7b.sh` for stage 2 (FuRA without per-head factorization or bias training, projector at 2e-5); both one
    /// epoch, cosine with warmup 0.03, betas (0.9, 0.999), no weight decay, gradient norm clipped at 1.
    mutating func applyVisionStage(_ stage: Int) {
        epochs = 1
        schedule = .cosine
        warmup = .fraction(0.03)
        weightDecay = 0
        betas = [0.9, 0.999]
        maxGradNorm = 1
        evalEvery = nil
        if stage == 1 {
            lr = 1e-3
        } else {
            vision.mmProjectorLr = 2e-5
            methodSettings.factorizeByHead = false
            methodSettings.trainBias = false
        }
    }

    /// The `stage` a run asks for, read from the flags or the config file before resolution (its recipe is the default).
    static func requestedStage(overrides: [String: Any], file: Data?) -> Int? {
        let object = file.flatMap { try? JSONSerialization.jsonObject(with: TextFileData.withoutByteOrderMark($0)) as? [String: Any] } ?? [:]
        let merged = object.merging(overrides) { $1 }
        guard let tower = merged["vision_tower"], !(tower is NSNull) else { return nil }
        return (merged["stage"] as? Int) ?? 2
    }
}
