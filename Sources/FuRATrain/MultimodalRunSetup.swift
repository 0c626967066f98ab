import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor
import FuRAVision

/// What a visual instruction run adds to a language model run: the frozen tower and its preprocessing, the LLaVA
/// records, the projector (new, or stage 1's), the feature cache and the `MultimodalLM` that the one training loop
/// trains. Its results sit beside the method's adapter: `mm_projector.safetensors` and `vision_config.json`.
public final class MultimodalRunSetup {
    public let settings: VisionSettings
    public let tower: DINOv2Tower
    public let processor: ImageProcessor
    public let data: VisualInstructionData
    public let projector: Projector
    public private(set) var model: MultimodalLM!
    public private(set) var cache: VisionFeatureCache?

    /// The file that records how the adapter's images are to be read.
    public static let configFileName = "vision_config.json"
    public static let projectorFileName = "mm_projector.safetensors"

    public convenience init(config: TrainConfig, language: CausalLM, tokenizer: SFTTokenizer) throws {
        try self.init(settings: config.vision, language: language, tokenizer: tokenizer, seed: config.seed)
    }

    /// `settings.pretrainMmMlpAdapter` names the projector to start from (else a new one from `seed`).
    public init(settings: VisionSettings, language: CausalLM, tokenizer: SFTTokenizer, seed: UInt64) throws {
        guard let towerPath = settings.visionTower else {
            throw TrainingError.invalidOption(option: "vision_tower", value: "nil", reason: "a multimodal run needs --vision-tower")
        }
        self.settings = settings
        let tower = try Self.typed { try DINOv2Tower(onnxPath: towerPath, selectLayer: settings.visionSelectLayer ?? VisionSettings.defaultSelectLayer) }
        self.tower = tower
        let size = settings.imageSize ?? VisionSettings.defaultImageSize
        processor = try Self.typed { try ImageProcessor(tower: tower, size: size) }
        data = VisualInstructionData(imageFolder: settings.imageFolder, template: settings.resolvedTemplate,
                                     imageRows: tower.patchCount(imageSize: size), tokenizer: tokenizer)
        let projector: Projector
        if let start = settings.pretrainMmMlpAdapter {
            projector = try Self.typed { try Projector.load(path: Self.projectorFile(in: start)) }
            let kind = settings.mmProjectorType ?? projector.kind.rawValue
            guard projector.kind.rawValue == kind, projector.inputWidth == tower.width, projector.outputWidth == language.config.hiddenSize else {
                throw TrainingError.invalidOption(option: "pretrain_mm_mlp_adapter", value: start,
                                                  reason: "its projector is \(projector.kind.rawValue) \(projector.inputWidth)→\(projector.outputWidth); "
                                                      + "this run needs \(kind) \(tower.width)→\(language.config.hiddenSize)")
            }
        } else {
            let kind = Projector.Kind(rawValue: settings.mmProjectorType ?? VisionSettings.defaultProjector) ?? .mlp2xGELU
            projector = try Projector(kind: kind, visionWidth: tower.width, textWidth: language.config.hiddenSize, seed: seed)
        }
        self.projector = projector
        model = try Self.typed { [unowned self] in
            try MultimodalLM(language: language, projector: projector) { index in
                guard let cache = self.cache else { throw VisionTowerError.badInput(reason: "features asked for before the data was loaded") }
                return try cache.features(of: index)
            }
        }
    }

    /// Starts the feature cache over every image the loaded data names, and computes the features of `only` those
    /// images (default: all) now; `progress(done, total)`.
    @discardableResult
    public func computeFeatures(only: [Int]? = nil, progress: (Int, Int) -> Void = { _, _ in }) throws -> (images: Int, seconds: Double) {
        let cache = VisionFeatureCache(tower: tower, processor: processor, paths: data.images)
        self.cache = cache
        let indices = only ?? Array(data.images.indices)
        let seconds = try Self.typed { try cache.compute(indices, progress: progress) }
        return (indices.count, seconds)
    }

    /// Writes the projector and `vision_config.json` into `directory` (an adapter folder).
    public func save(into directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try projector.save(to: directory.appendingPathComponent(Self.projectorFileName).path)
        var saved = settings
        saved.visionTower = settings.visionTower.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        saved.imageSize = processor.size
        saved.mmProjectorType = projector.kind.rawValue
        saved.visionSelectLayer = settings.visionSelectLayer ?? VisionSettings.defaultSelectLayer
        saved.conversationTemplate = settings.resolvedTemplate
        saved.stage = settings.resolvedStage
        saved.imageFolder = nil
        saved.pretrainMmMlpAdapter = nil
        try AtomicWrite.write(try RunConfigResolution.json(saved), to: directory.appendingPathComponent(Self.configFileName).path)
    }

    /// The settings an adapter folder (or a run folder holding `adapter/`) was trained with, or nil when it has none.
    public static func savedSettings(in path: String) throws -> VisionSettings? {
        let candidates = [URL(fileURLWithPath: path), URL(fileURLWithPath: path).appendingPathComponent("adapter")]
        guard let file = candidates.map({ $0.appendingPathComponent(configFileName) }).first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            return nil
        }
        do { return try JSONDecoder().decode(VisionSettings.self, from: Data(contentsOf: file)) } catch {
            throw TrainingError.malformedRecord(path: file.path, location: "top level", reason: ErrorText.decoding(error))
        }
    }

    /// `path` itself when it is a file, else the projector inside it (an adapter folder, or a run folder's `adapter/`).
    public static func projectorFile(in path: String) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return path }
        let direct = URL(fileURLWithPath: path).appendingPathComponent(projectorFileName).path
        if FileManager.default.fileExists(atPath: direct) { return direct }
        return URL(fileURLWithPath: path).appendingPathComponent("adapter").appendingPathComponent(projectorFileName).path
    }

    /// Runs `body`, turning the vision room's errors into training errors (one line, exit 1).
    static func typed<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as VisionTowerError {
            throw TrainingError.vision(reason: error.description)
        } catch let error as VisionDataError {
            throw TrainingError.vision(reason: error.description)
        } catch let error as ONNXError {
            throw TrainingError.vision(reason: error.description)
        } catch let error as SafetensorsError {
            throw TrainingError.vision(reason: "pretrain_mm_mlp_adapter: \(error.description)")
        }
    }
}
