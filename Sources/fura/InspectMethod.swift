import ArgumentParser
import Foundation
import FuRA
import FuRAModels
import FuRATensor
import FuRATrain

/// `fura inspect MODEL --method M`: applies a fine-tuning method and reports what converts and what trains.
struct InspectMethodOptions: ParsableArguments {
    @OptionGroup(title: "Method") var methodOptions: MethodOptionGroup
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

    /// Whether a method was asked for.
    var method: String? { methodOptions.method }

    /// Loads `model`, applies the method, prints the report (a table, or JSON).
    func run(model: String, json: Bool) throws {
        guard let name = method else { throw ValidationError("--method: expected one of \(MethodOptionGroup.methodList)") }
        let kind = try MethodName(parsing: name, option: "--method")
        let method: any FineTuningMethod
        do { method = try MethodRegistry.make(kind, settings: methodOptions.settings) } catch let error as MethodError {
            throw ValidationError(error.description)
        }
        if let threads { Threading.setThreadCount(threads) }
        let loaded = try ModelLoader.load(path: model)
        var output = Output(method: name, convertedModules: 0, trainableParameters: 0, totalParameters: 0, maxRelativeError: nil,
                            seconds: 0, summary: "")
        var table = ""
        // The dense weights (shared storage, no copy), to measure ‖W − materialize(W)‖/‖W‖ after the timed part.
        var originals = [String: Tensor]()
        let converting = method as? any ConvertingMethod
        if let converting {
            let targets = try converting.conversion.targetLeaves()
            for slot in loaded.model.linearSlotNames where targets.contains(slot.leafName) {
                if let layer = loaded.model.linear(named: slot) { originals[slot] = try layer.denseWeight() }
            }
        }
        let start = Date()
        let cpuStart = Self.cpuSeconds()
        if let converting {
            var (report, application) = try converting.convert(loaded.model)
            output.seconds = Date().timeIntervalSince(start)
            output.cpuSeconds = Self.cpuSeconds() - cpuStart
            var worst: Double?
            for index in report.modules.indices {
                let slot = report.modules[index].slot
                guard let layer = loaded.model.linear(named: slot), let w = originals[slot] else { continue }
                if let q = layer as? QBTTLayer {
                    report.modules[index].frozen += q.core.count
                    report.modules[index].storageBytes = q.core.byteCount + 4 * q.parameters.reduce(0) { $0 + $1.parameter.count }
                }
                let e = Double(try layer.denseWeight().relativeError(to: w))
                report.modules[index].reconstructionError = e
                worst = max(worst ?? 0, e)
            }
            let storage = Conversion.quantizedCoreStorage(loaded.model)
            if storage.elements > 0 {
                output.quantizedCoreBytes = storage.bytes
                output.quantizedCoreElements = storage.elements
                output.quantization = (method as? QFuRAMethod)?.quantization
            }
            output.maxRelativeError = worst
            output.convertedModules = report.modules.count
            output.storageBytes = report.modules.reduce(0) { $0 + $1.storageBytes }
            output.denseBytes = report.modules.reduce(0) { $0 + 4 * $1.denseShape.reduce(1, *) }
            output.modules = report.byType
            output.summary = application.summary + (storage.elements > 0 ? ", frozen cores in NF4 (max relative error is the NF4 round trip)" : "")
            table = report.table
        } else {
            let application = try method.apply(to: loaded.model, seed: 0)
            output.convertedModules = loaded.model.linearSlotNames.filter { loaded.model.linear(named: $0).map { $0 is LoRALinear || $0 is DoRALinear } ?? false }.count
            output.summary = application.summary
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
