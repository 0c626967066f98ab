import ArgumentParser
import Foundation
import FuRA
import FuRAModels
import FuRATensor
import FuRATrain

/// `fura inspect MODEL --method M`: applies a fine-tuning method and reports what converts and what trains.
struct InspectMethodOptions: ParsableArguments {
    @Option(help: "Apply a method and report it: fura | svd | lora | dora | full | qfura | qlora | qdora.") var method: String?
    @Option(help: "fura/svd: decomp_mode (square, output_one_block, input_one_block, or a group dict).") var decompMode: String?
    @Option(help: "fura: per-block rank (full, an integer, or a fraction in (0, 1)).") var rank: String?
    @Option(help: "fura: small | large | both; svd: output | input | both.") var trainPosition: String?
    @Option(help: "fura/svd: target modules, comma-separated (default all-linear).") var targetModules: String?
    @Option(help: "LoRA family: rank.") var loraRank: Int?
    @Option(help: "LoRA family: alpha.") var loraAlpha: Double?
    @Option(help: "Threads for BLAS and LAPACK (default: all cores).") var threads: Int?

    struct Output: Encodable {
        var method: String; var convertedModules: Int; var trainableParameters: Int; var totalParameters: Int
        var maxRelativeError: Double?; var seconds: Double; var summary: String
        enum CodingKeys: String, CodingKey {
            case method, summary, seconds
            case convertedModules = "converted_modules", trainableParameters = "trainable_parameters"
            case totalParameters = "total_parameters", maxRelativeError = "max_relative_error"
        }
    }

    /// Loads `model`, applies the method, prints the report (a table, or JSON).
    func run(model: String, json: Bool) throws {
        guard let name = method, let kind = TrainMethod(rawValue: name) else {
            throw ValidationError("--method \(method ?? ""): expected one of \(TrainMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        Threading.setThreadCount(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let loaded = try ModelLoader.load(path: model)
        let start = Date()
        var output = Output(method: name, convertedModules: 0, trainableParameters: 0, totalParameters: 0, maxRelativeError: nil,
                            seconds: 0, summary: "")
        var table = ""
        if kind == .fura || kind == .svd {
            var options = ConversionOptions(method: kind == .fura ? .fura : .svd)
            if let v = decompMode { options.decompMode = try DecompModeSpec(parsing: v) }
            if let v = rank { options.rank = try BTTRank(parsing: v) }
            if let v = trainPosition { options.trainPosition = v }
            if let v = targetModules { options.targetModules = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            try options.validate()
            let report = try Conversion.convert(loaded.model, options: options, measureReconstruction: true)
            output.convertedModules = report.modules.count
            output.maxRelativeError = report.maxReconstructionError
            output.summary = "\(name): converted \(report.modules.count) projections"
            table = report.table
        } else {
            var overrides: [String: Any] = ["model": model, "data": "-", "output": "-", "method": name]
            if let loraRank { overrides["lora_rank"] = loraRank }
            if let loraAlpha { overrides["lora_alpha"] = loraAlpha }
            let config = try TrainConfig.resolve(file: nil, overrides: overrides)
            let setup = try TrainMethodSetup.apply(config, to: loaded.model)
            output.convertedModules = loaded.model.linearSlotNames.filter { loaded.model.linear(named: $0).map { $0 is LoRALinear || $0 is DoRALinear } ?? false }.count
            output.summary = setup.summary
        }
        output.seconds = Date().timeIntervalSince(start)
        let counts = Conversion.parameterCounts(loaded.model)
        output.trainableParameters = counts.trainable
        // LoRA/DoRA keep their frozen base in a FrozenWeight, not a Parameter: count it too.
        let frozenBases = loaded.model.linearSlotNames.reduce(0) { sum, slot in
            let layer = loaded.model.linear(named: slot)
            if let l = layer as? LoRALinear { return sum + l.base.rows * l.base.columns }
            if let d = layer as? DoRALinear { return sum + d.base.rows * d.base.columns }
            return sum
        }
        output.totalParameters = counts.total + frozenBases
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
            return
        }
        print(output.summary)
        if !table.isEmpty { print(table) }
        let share = Double(output.trainableParameters) / Double(max(1, output.totalParameters)) * 100
        print("trainable \(output.trainableParameters.formatted()) of \(output.totalParameters.formatted()) parameters "
              + String(format: "(%.2f%%)", share) + String(format: ", %.2f s", output.seconds)
              + (output.maxRelativeError.map { String(format: ", max relative error %.2e", $0) } ?? ""))
    }
}
