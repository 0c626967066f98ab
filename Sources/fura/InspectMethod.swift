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
    @Option(help: "qfura: NF4 layout of the frozen core, flat or per_core_block.") var quantBlockLayout: String?
    @Flag(name: .customLong("double-quant"), inversion: .prefixedNo, help: "qfura: double-quantize the NF4 absmax (default on).") var doubleQuant: Bool?
    @Option(help: "Threads for BLAS and LAPACK (default: all cores).") var threads: Int?

    struct Output: Encodable {
        var method: String; var convertedModules: Int; var trainableParameters: Int; var totalParameters: Int
        var maxRelativeError: Double?; var seconds: Double; var summary: String
        /// Bytes of the converted/adapted projections as stored (f32 tensors, NF4 cores or bases).
        var storageBytes: Int?
        /// The same projections as f32 dense weights.
        var denseBytes: Int?
        /// qfura: bytes of the NF4 frozen cores, their element count and settings.
        var quantizedCoreBytes: Int?; var quantizedCoreElements: Int?; var quantization: QFuRAOptions?
        /// CPU seconds (user + system) of the conversion, next to the wall-clock `seconds`.
        var cpuSeconds: Double?
        var modules: [ConversionReport.TypeSummary]?
        enum CodingKeys: String, CodingKey {
            case method, summary, seconds, quantization, modules
            case convertedModules = "converted_modules", trainableParameters = "trainable_parameters"
            case totalParameters = "total_parameters", maxRelativeError = "max_relative_error"
            case storageBytes = "storage_bytes", denseBytes = "dense_bytes", quantizedCoreBytes = "quantized_core_bytes"
            case quantizedCoreElements = "quantized_core_elements", cpuSeconds = "cpu_seconds"
        }
    }

    /// Loads `model`, applies the method, prints the report (a table, or JSON).
    func run(model: String, json: Bool) throws {
        guard let name = method, let kind = TrainMethod(rawValue: name) else {
            throw ValidationError("--method \(method ?? ""): expected one of \(TrainMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let threads { Threading.setThreadCount(threads) }
        let loaded = try ModelLoader.load(path: model)
        var start = Date()
        var cpuStart = Self.cpuSeconds()
        var output = Output(method: name, convertedModules: 0, trainableParameters: 0, totalParameters: 0, maxRelativeError: nil,
                            seconds: 0, summary: "")
        var table = ""
        var qfuraErrors: Double?
        if kind == .fura || kind == .svd || kind == .qfura {
            var options = ConversionOptions(method: kind == .svd ? .svd : .fura)
            if let v = decompMode { options.decompMode = try DecompModeSpec(parsing: v) }
            if let v = rank { options.rank = try BTTRank(parsing: v) }
            if let v = trainPosition { options.trainPosition = v }
            if let v = targetModules { options.targetModules = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            try options.validate()
            // The dense weights (shared storage, no copy), to measure ‖W − materialize(W)‖/‖W‖ after the timed part.
            let targets = try options.targetLeaves()
            var originals = [String: Tensor]()
            for slot in loaded.model.linearSlotNames where targets.contains(slot.leafName) {
                if let layer = loaded.model.linear(named: slot) { originals[slot] = try layer.denseWeight() }
            }
            start = Date()
            cpuStart = Self.cpuSeconds()
            var report: ConversionReport
            if kind == .qfura {
                var quant = QFuRAOptions()
                if let v = quantBlockLayout { quant.layout = try QFuRAOptions.parseLayout(v) }
                if let v = doubleQuant { quant.doubleQuantization = v }
                report = try Conversion.convert(loaded.model, options: options, measureReconstruction: false)
                try Conversion.quantizeFrozenCores(loaded.model, options: quant)
                output.seconds = Date().timeIntervalSince(start)
                output.cpuSeconds = Self.cpuSeconds() - cpuStart
                let storage = Conversion.quantizedCoreStorage(loaded.model)
                output.quantizedCoreBytes = storage.bytes
                output.quantizedCoreElements = storage.elements
                output.quantization = quant
                for index in report.modules.indices {
                    let slot = report.modules[index].slot
                    guard let q = loaded.model.linear(named: slot) as? QBTTLayer else { continue }
                    report.modules[index].frozen += q.core.count
                    report.modules[index].storageBytes = q.core.byteCount + 4 * q.parameters.reduce(0) { $0 + $1.parameter.count }
                    if let w = originals[slot] {
                        let e = Double(try q.denseWeight().relativeError(to: w))
                        report.modules[index].reconstructionError = e
                        qfuraErrors = max(qfuraErrors ?? 0, e)
                    }
                }
                output.maxRelativeError = qfuraErrors
            } else {
                report = try Conversion.convert(loaded.model, options: options, measureReconstruction: false)
                output.seconds = Date().timeIntervalSince(start)
                output.cpuSeconds = Self.cpuSeconds() - cpuStart
                for index in report.modules.indices {
                    let slot = report.modules[index].slot
                    guard let layer = loaded.model.linear(named: slot), let w = originals[slot] else { continue }
                    report.modules[index].reconstructionError = Double(try layer.denseWeight().relativeError(to: w))
                }
                output.maxRelativeError = report.maxReconstructionError
            }
            output.convertedModules = report.modules.count
            output.storageBytes = report.modules.reduce(0) { $0 + $1.storageBytes }
            output.denseBytes = report.modules.reduce(0) { $0 + 4 * $1.denseShape.reduce(1, *) }
            output.modules = report.byType
            output.summary = "\(name): converted \(report.modules.count) projections"
                + (kind == .qfura ? ", frozen cores in NF4 (max relative error is the NF4 round trip)" : "")
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
        if output.seconds == 0 {
            output.seconds = Date().timeIntervalSince(start)
            output.cpuSeconds = Self.cpuSeconds() - cpuStart
        }
        let counts = Conversion.parameterCounts(loaded.model)
        output.trainableParameters = counts.trainable
        // LoRA/DoRA keep their frozen base in a FrozenWeight, not a Parameter: count it too.
        let frozenBases = loaded.model.linearSlotNames.reduce(0) { sum, slot in
            let layer = loaded.model.linear(named: slot)
            if let l = layer as? LoRALinear { return sum + l.base.rows * l.base.columns }
            if let d = layer as? DoRALinear { return sum + d.base.rows * d.base.columns }
            if let q = layer as? QBTTLayer { return sum + q.core.count }
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

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
