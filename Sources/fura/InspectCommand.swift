import ArgumentParser
import Foundation
import FuRAFormats
import FuRAModels

/// `fura inspect MODEL`: architecture, config, tensors and parameter counts of a model file.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Describe a model: architecture, config, tensors, parameter counts.")

    @Argument(help: "A .gguf file or an HF model directory.") var model: String
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "List every tensor (text mode lists the first layer and the non-layer tensors by default).") var allTensors = false
    @OptionGroup var methodOptions: InspectMethodOptions

    struct TensorRow: Encodable { var name: String; var hfName: String?; var dtype: String; var shape: [Int]; var parameters: Int
        enum CodingKeys: String, CodingKey { case name, hfName = "hf_name", dtype, shape, parameters } }
    struct Report: Encodable {
        var path: String; var format: String; var architecture: String; var config: ModelConfig
        var parameters: Int; var embeddingParameters: Int; var linearParameters: Int; var normParameters: Int
        var tensors: [TensorRow]
        enum CodingKeys: String, CodingKey {
            case path, format, architecture, config, parameters, tensors
            case embeddingParameters = "embedding_parameters", linearParameters = "linear_parameters", normParameters = "norm_parameters"
        }
    }

    func run() throws {
        if methodOptions.method != nil { return try methodOptions.run(model: model, json: json) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) else {
            throw ModelError.unreadable(path: model, reason: "no such file or directory; pass a .gguf file or an HF model directory")
        }
        let config: ModelConfig, rows: [TensorRow], format: String
        if isDirectory.boolValue {
            config = try ModelConfig.load(contentsOf: URL(fileURLWithPath: model).appendingPathComponent("config.json"))
            let store = try SafetensorsStore(directory: model)
            rows = store.tensorNames.compactMap { name in
                store.info(named: name).map { TensorRow(name: name, hfName: name, dtype: $0.dtype.rawValue, shape: $0.shape, parameters: $0.shape.reduce(1, *)) }
            }
            format = "hf safetensors (\(store.files.count) file\(store.files.count == 1 ? "" : "s"))"
        } else {
            let file = try GGUFFile(path: model)
            config = try GGUFWeightMap.config(of: file)
            rows = file.tensors.map {
                TensorRow(name: $0.name, hfName: config.family.hfName(ofGGUF: $0.name), dtype: "\($0.type)", shape: $0.shape, parameters: $0.elementCount)
            }
            format = "gguf v\(file.version)"
        }
        func sum(_ keep: (TensorRow) -> Bool) -> Int { rows.filter(keep).reduce(0) { $0 + $1.parameters } }
        let report = Report(
            path: model, format: format, architecture: config.modelType, config: config,
            parameters: sum { _ in true },
            embeddingParameters: sum { ["model.embed_tokens.weight", "lm_head.weight"].contains($0.hfName ?? "") },
            linearParameters: sum { ($0.hfName ?? "").hasSuffix("_proj.weight") || ($0.hfName ?? "").hasSuffix("_proj.bias") },
            normParameters: sum { ($0.hfName ?? "").hasSuffix("norm.weight") }, tensors: rows)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        let c = config
        print("\(model)  (\(report.format), architecture \(c.modelType), \(c.family.className))")
        print("  layers \(c.numHiddenLayers), hidden \(c.hiddenSize), intermediate \(c.intermediateSize), heads \(c.numAttentionHeads) (kv \(c.numKeyValueHeads), head dim \(c.headDim))")
        print("  vocab \(c.vocabSize), context \(c.maxPositionEmbeddings), rope theta \(c.ropeTheta)\(c.ropeScaling.map { ", scaling \($0.ropeType) ×\($0.factor)" } ?? ""), rms eps \(c.rmsNormEps)")
        print("  tied embeddings \(c.tieWordEmbeddings), attention bias \(c.attentionBias), q/k norm \(c.qkNorm)")
        print("  parameters \(report.parameters.formatted()) = embeddings \(report.embeddingParameters.formatted()) + linear \(report.linearParameters.formatted()) + norms \(report.normParameters.formatted())")
        print("  tensors (\(rows.count)):")
        let firstLayer = ["blk.0.", "model.layers.0."]
        for r in rows where allTensors || !(r.name.hasPrefix("blk.") || r.name.hasPrefix("model.layers.")) || firstLayer.contains(where: r.name.hasPrefix) {
            print("    \(r.name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(r.dtype.padding(toLength: 6, withPad: " ", startingAt: 0)) \(r.shape)")
        }
        if !allTensors && c.numHiddenLayers > 1 { print("    … blocks 1–\(c.numHiddenLayers - 1) have the same tensors (--all-tensors lists them)") }
    }
}
