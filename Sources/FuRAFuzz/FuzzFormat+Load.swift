import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATrain
import FuRAVision

extension FuzzFormat {
    /// The loader of each format, as the commands call it, and a use of what it returned (encode, a forward pass on
    /// a small model, tokenizing examples), so values that load but cannot be used also show.
    func load(_ input: [UInt8], scratch: FuzzScratch) throws {
        switch self {
        case .gguf:
            let loaded = try ModelLoader.load(path: try scratch.write(input, as: "model.gguf"))
            if FuzzSeeds.isSmall(loaded.config) {
                _ = try loaded.model.logits(for: [[0, 1, loaded.config.vocabSize - 1]])
            }
            if let tokenizer = loaded.tokenizer { _ = tokenizer.decode(tokenizer.encode(FuzzSeeds.sampleText)) }
        case .safetensors:
            let file = try SafetensorsFile(path: try scratch.write(input, as: "model.safetensors"))
            for name in file.tensorNames { _ = try file.tensor(named: name) }
        case .tokenizer:
            let tokenizer = try Tokenizer(tokenizerJSON: try scratch.write(input, as: "tokenizer.json"))
            _ = tokenizer.decode(tokenizer.encode(FuzzSeeds.sampleText))
        case .modelConfig:
            let config = try ModelConfig.load(contentsOf: URL(fileURLWithPath: try scratch.write(input, as: "config.json")))
            try config.validate()
            if FuzzSeeds.isSmall(config) { _ = try CausalLM.random(config: config, seed: 1).logits(for: [[0, config.vocabSize - 1]]) }
        case .runConfig:
            let file = try ConfigFile(data: Data(input), path: scratch.directory + "/run.yaml")
            _ = try TrainConfig.resolve(configFile: file, overrides: [:])
        case .trainingData:
            let tokenizer = FuzzSeeds.byteTokenizer
            for example in try SFTRecords.parse(Data(input), path: scratch.directory + "/data.json", tokenizer: tokenizer).prefix(64) {
                _ = try example.tokenized(with: tokenizer, maxSeqLen: 64, trainOnInputs: false)
            }
        case .adapterConfig:
            let directory = scratch.directory + "/adapter"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let (model, tensors) = try FuzzSeeds.adapterBase()
            try Data(tensors).write(to: URL(fileURLWithPath: directory + "/" + AdapterFiles.tensorsName))
            try Data(input).write(to: URL(fileURLWithPath: directory + "/" + AdapterFiles.configName))
            _ = try AdapterFiles.load(directory, into: model())
        case .image:
            let image = try ImageFile.read(path: try scratch.write(input, as: "image"))
            _ = try ImageProcessor(size: 28, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]).pixels(image)
        case .onnx:
            // A model that parses but is not a ViT is refused by the tower; that refusal must be one typed line too.
            let model = try ONNXModel(data: Data(input), path: "tower.onnx")
            do { _ = try DINOv2Tower(model: model) } catch let error where error is VisionTowerError || error is ONNXError {
                let message = "\(error)"
                guard !message.contains("\n"), message.utf8.count <= 2_000 else {
                    throw FuzzFinding(format: self, problem: "tower refusal is not one short line: \(message.prefix(200))")
                }
            }
        case .visualData:
            _ = try scratch.write(FuzzSeeds.pngSeeds()[0], as: "a.png")
            let path = try scratch.write(input, as: "data.json")
            for template in ConversationTemplate.allCases {
                let data = VisualInstructionData(imageFolder: nil, template: template, imageRows: 4, tokenizer: FuzzSeeds.byteTokenizer)
                for example in try data.load(path: path).prefix(64) {
                    _ = try example.tokenized(with: FuzzSeeds.byteTokenizer, maxSeqLen: 64, trainOnInputs: false)
                }
            }
        }
    }
}
