import ArgumentParser

/// The visual instruction tuning options of `fura train`, with LLaVA's names (config keys in snake_case).
struct VisionOptionGroup: ParsableArguments {
    @Option(help: "Vision tower: a DINOv2 ONNX file (scripts/setup.sh dinov2). Makes the run multimodal (LLaVA records as --data).")
    var visionTower: String?
    @Option(help: "Folder the records' \"image\" paths are relative to (default: the data file's folder).") var imageFolder: String?
    @Option(help: "Image side in pixels, a multiple of the tower's patch (default 224).") var imageSize: Int?
    @Option(help: "1: projector only (LLaVA pretraining, lr 1e-3, plain template); 2 (default): the method on the LM and the projector.")
    var stage: Int?
    @Option(help: "linear | mlp2x_gelu (default).") var mmProjectorType: String?
    @Option(help: "The projector's learning rate (stage 2 default 2e-5; otherwise --lr).") var mmProjectorLr: Double?
    @Option(help: "Start the projector from this mm_projector.safetensors (or a stage-1 run or adapter folder).")
    var pretrainMmMlpAdapter: String?
    @Option(help: "Tower hidden state to read (LLaVA's mm_vision_select_layer; default -2).") var visionSelectLayer: Int?
    @Option(help: "plain | vicuna_v1 | chat (the model's chat template; default for stage 2).") var conversationTemplate: String?

    /// The options given, as config keys.
    var overrides: [String: Any] {
        var o = [String: Any]()
        func set(_ key: String, _ value: Any?) { if let value { o[key] = value } }
        set("vision_tower", visionTower); set("image_folder", imageFolder); set("image_size", imageSize); set("stage", stage)
        set("mm_projector_type", mmProjectorType); set("mm_projector_lr", mmProjectorLr)
        set("pretrain_mm_mlp_adapter", pretrainMmMlpAdapter); set("vision_select_layer", visionSelectLayer)
        set("conversation_template", conversationTemplate)
        return o
    }
}
