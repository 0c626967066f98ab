import ArgumentParser
import FuRATrain

/// How images are read and asked about: the five flags of `fura eval --task image-qa` and `fura generate --image`
/// (where an unset one is what the adapter was trained with, its `vision_config.json`), which `fura train` shares
/// (`VisionOptionGroup`, where they configure the run).
struct ImageOptionGroup: ParsableArguments {
    @Option(help: """
        Vision tower: a DINOv2 ONNX file (scripts/setup.sh dinov2). In fura train it makes the run multimodal (LLaVA \
        records as --data); in eval and generate the default is the adapter's.
        """)
    var visionTower: String?
    @Option(help: "Folder the records' \"image\" paths are relative to (default: the data file's folder).") var imageFolder: String?
    @Option(help: "Image side in pixels, a multiple of the tower's patch (default 224; eval and generate: the adapter's).")
    var imageSize: Int?
    @Option(help: "Tower hidden state to read (LLaVA's mm_vision_select_layer; default -2; eval and generate: the adapter's).")
    var visionSelectLayer: Int?
    @Option(help: "plain | vicuna_v1 | chat (the model's chat template; default plain in stage 1, chat after; eval and generate: the adapter's).")
    var conversationTemplate: String?

    /// These options over the adapter's saved settings; the projector comes from the adapter.
    func settings(adapter: String?) throws -> VisionSettings {
        var settings = try adapter.flatMap { try MultimodalRunSetup.savedSettings(in: $0) } ?? VisionSettings()
        if let visionTower { settings.visionTower = visionTower }
        if let imageFolder { settings.imageFolder = imageFolder }
        if let imageSize { settings.imageSize = imageSize }
        if let visionSelectLayer { settings.visionSelectLayer = visionSelectLayer }
        if let conversationTemplate {
            guard let template = ConversationTemplate(rawValue: conversationTemplate) else {
                throw ValidationError("--conversation-template \(conversationTemplate): expected plain, vicuna_v1 or chat")
            }
            settings.conversationTemplate = template
        }
        guard settings.visionTower != nil else {
            throw ValidationError("images need a vision tower: --vision-tower FILE, or an --adapter trained with one")
        }
        guard let adapter else { throw ValidationError("images need the trained projector: --adapter DIR (a visual run's adapter)") }
        settings.pretrainMmMlpAdapter = adapter
        settings.stage = nil
        try settings.validate()
        return settings
    }
}
