import ArgumentParser

/// The visual instruction tuning options of `fura train`, with LLaVA's names (config keys in snake_case): the image
/// flags `fura eval` and `fura generate` also take, and the stage and projector.
struct VisionOptionGroup: ParsableArguments {
    @OptionGroup var images: ImageOptionGroup
    @Option(help: "1: projector only (LLaVA pretraining, lr 1e-3, plain template); 2 (default): the method on the LM and the projector.")
    var stage: Int?
    @Option(help: "linear | mlp2x_gelu (default).") var mmProjectorType: String?
    @Option(help: "The projector's learning rate (stage 2 default 2e-5; otherwise --lr).") var mmProjectorLr: Double?
    @Option(help: "Start the projector from this mm_projector.safetensors (or a stage-1 run or adapter folder).")
    var pretrainMmMlpAdapter: String?

    /// The options given, as config keys.
    var overrides: [String: Any] {
        var o = [String: Any]()
        func set(_ key: String, _ value: Any?) { if let value { o[key] = value } }
        set("vision_tower", images.visionTower); set("image_folder", images.imageFolder); set("image_size", images.imageSize)
        set("stage", stage)
        set("mm_projector_type", mmProjectorType); set("mm_projector_lr", mmProjectorLr)
        set("pretrain_mm_mlp_adapter", pretrainMmMlpAdapter); set("vision_select_layer", images.visionSelectLayer)
        set("conversation_template", images.conversationTemplate)
        return o
    }
}
