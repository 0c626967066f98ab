import ArgumentParser
import FuRATrain

/// How `fura eval --task image-qa` and `fura generate --image` read images; unset values come from the adapter's
/// `vision_config.json` (what it was trained with).
struct ImageOptionGroup: ParsableArguments {
    @Option(help: "Vision tower (DINOv2 ONNX); default: the one the adapter was trained with.") var visionTower: String?
    @Option(help: "Folder the records' image paths are relative to (default: the data file's folder).") var imageFolder: String?
    @Option(help: "Image side in pixels (default: the adapter's, else 224).") var imageSize: Int?
    @Option(help: "Tower hidden state to read (default: the adapter's, else -2).") var visionSelectLayer: Int?
    @Option(help: "plain | vicuna_v1 | chat (default: the adapter's, else chat).") var conversationTemplate: String?

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
