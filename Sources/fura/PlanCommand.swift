import ArgumentParser
import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATensor
import FuRATrain

/// `fura plan`: trainable/total parameter counts and a memory estimate from an HF config.json alone.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Parameter counts and a memory estimate for fine-tuning a model, from its config.json alone (no weights).")

    @Option(help: "Path to the model's HF config.json.")
    var config: String

    @OptionGroup(title: "Method") var methodOptions: MethodOptionGroup

    @Option(help: "Method options from a file (YAML, or JSON by a .json name) with fura train's snake_case keys (method, decomp_mode, lora_rank, …); flags override it.")
    var options: String?

    @Option(name: .customLong("batch-size"), help: "Sequences per step, for the activation estimate.")
    var batchSize: Int = 1

    @Option(name: .customLong("seq-len"), help: "Tokens per sequence, for the activation estimate.")
    var seqLen: Int = 512

    @Flag(name: .customLong("gradient-checkpointing"), inversion: .prefixedNo,
          help: "As fura train's: activations of the block inputs and one block instead of every layer's.")
    var gradientCheckpointing = false

    @Option(help: "As fura train's --precision (f32 or bf16): bf16 adds the packed bf16 copies it keeps.")
    var precision = "f32"

    /// `--precision`, checked.
    var computePrecision: ComputePrecision {
        get throws {
            guard let p = ComputePrecision(rawValue: precision) else { throw ValidationError("--precision \(precision): expected f32 or bf16") }
            return p
        }
    }

    @Option(help: "Processes of a data-parallel run (mpirun -np N): the memory each one needs, and how many fit a host.")
    var processes: Int = 1

    @Option(name: .customLong("grad-accum"), help: "Micro-batches each process runs per step (fura train's --grad-accum).")
    var gradAccum: Int = 1

    @Option(name: .customLong("host-memory"), help: "GiB of memory of a host, for how many processes fit on it (default: this machine's).")
    var hostMemory: Double?

    @Flag(help: "Print the plan as JSON.")
    var json = false

    func validate() throws {
        guard processes >= 1 else { throw ValidationError("--processes must be at least 1 (got \(processes))") }
        guard gradAccum >= 1 else { throw ValidationError("--grad-accum must be at least 1 (got \(gradAccum))") }
        _ = try computePrecision
        if let hostMemory { guard hostMemory > 0, hostMemory.isFinite else { throw ValidationError("--host-memory must be a positive number of GiB") } }
    }

    /// What each process of a data-parallel run holds: the whole plan (data parallelism shares the batch, not the
    /// weights) and the micro-batch window's gradient buffers.
    struct PerProcess: Encodable {
        var processes: Int
        var windowBufferBytes: Int
        var totalPerProcessBytes: Int
        var hostMemoryBytes: Int
        var processesPerHost: Int

        enum CodingKeys: String, CodingKey {
            case processes
            case windowBufferBytes = "window_buffer_bytes", totalPerProcessBytes = "total_per_process_bytes"
            case hostMemoryBytes = "host_memory_bytes", processesPerHost = "processes_per_host"
        }

        init(_ plan: ParameterPlan, processes: Int, gradAccum: Int, hostMemory: Double?) {
            self.processes = processes
            windowBufferBytes = MicroBatchWindow.bufferBytes(trainable: plan.trainableParameters, processes: processes, microBatches: gradAccum)
            totalPerProcessBytes = plan.memoryBytes.total + windowBufferBytes
            hostMemoryBytes = hostMemory.map { Int($0 * 1_073_741_824) } ?? Int(ProcessInfo.processInfo.physicalMemory)
            processesPerHost = hostMemoryBytes / max(1, totalPerProcessBytes)
        }
    }

    func run() throws {
        let model = try ModelConfig.load(contentsOf: URL(fileURLWithPath: config))
        let (name, settings) = try resolvedMethod()
        let method: any FineTuningMethod
        do { method = try MethodRegistry.make(name, settings: settings) } catch let error as MethodError {
            throw ValidationError(error.description)
        }
        let plan = try ParameterPlan.make(config: model, method: method, batchSize: batchSize, seqLen: seqLen,
                                          gradientCheckpointing: gradientCheckpointing, precision: try computePrecision)
        let perProcess = PerProcess(plan, processes: processes, gradAccum: gradAccum, hostMemory: hostMemory)
        if json {
            // The plan's keys, and `per_process`.
            var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(plan)) as? [String: Any] ?? [:]
            object["per_process"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(perProcess))
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        } else {
            print(Self.render(plan, gradientCheckpointing: gradientCheckpointing) + "\n" + Self.render(perProcess))
        }
    }

    /// The method and its settings: `--options` file, then the flags.
    func resolvedMethod() throws -> (MethodName, MethodSettings) {
        var object = [String: Any]()
        if let options {
            let file = try ConfigFile(path: options)
            try file.checkKeys(["method"] + MethodSettings.keys)
            object = try JSONSerialization.jsonObject(with: file.jsonData()) as? [String: Any] ?? [:]
            if let list = object["target_modules"] as? [String] { object["target_modules"] = list.joined(separator: ",") }
        }
        for (key, value) in methodOptions.overrides { object[key] = value }
        let name = try MethodName(parsing: object.removeValue(forKey: "method") as? String ?? "fura", option: "--method")
        let settings = try JSONDecoder().decode(MethodSettings.self, from: JSONSerialization.data(withJSONObject: object))
        return (name, settings)
    }

    static func render(_ p: PerProcess) -> String {
        func gib(_ bytes: Int) -> String { String(format: "%9.3f GiB", Double(bytes) / 1_073_741_824) }
        var lines = [
            "  micro-batch window \(gib(p.windowBufferBytes))  (the gradient sum" + (p.processes > 1 ? ", local gradients and a receive buffer)" : ")"),
            "  total per process  \(gib(p.totalPerProcessBytes))",
        ]
        if p.processes > 1 {
            lines.append("  \(p.processes) processes        \(gib(p.processes * p.totalPerProcessBytes))  (each holds the whole model: data parallelism shares the batch, not the weights)")
        }
        lines.append("processes per host  \(p.processesPerHost) of \(String(format: "%.1f", Double(p.hostMemoryBytes) / 1_073_741_824)) GiB")
        return lines.joined(separator: "\n")
    }

    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }

    static func render(_ plan: ParameterPlan, gradientCheckpointing: Bool = false) -> String {
        func gib(_ bytes: Int) -> String { String(format: "%9.3f GiB", Double(bytes) / 1_073_741_824) }
        let pct = 100 * Double(plan.trainableParameters) / Double(max(1, plan.totalParameters))
        var lines = [
            "method               \(plan.method.rawValue)",
            "trainable parameters \(plan.trainableParameters) (\(String(format: "%.2f", pct))% of \(plan.totalParameters))",
            "frozen parameters    \(plan.frozenParameters)" + (plan.quantizedParameters > 0 ? " (\(plan.quantizedParameters) in NF4)" : ""),
            "",
            "module       count  dense (O×I)     blocks                        trainable/module   frozen/module",
        ]
        for m in plan.modules {
            let grid = m.geometry.map { "\($0.m)×\($0.n) of \($0.a)×\($0.b), r \($0.r)" } ?? "-"
            lines.append(pad(m.leaf, 12) + String(format: " %5d  ", m.count) + pad("\(m.denseShape[0])×\(m.denseShape[1])", 14)
                         + "  " + pad(grid, 28) + String(format: " %16d %15d", m.trainable, m.frozen))
        }
        let mem = plan.memoryBytes
        lines += [
            "",
            "memory (batch \(plan.batchSize) × seq \(plan.seqLen))",
            "  frozen weights     \(gib(mem.frozenWeights))",
            "  trainable weights  \(gib(mem.trainableWeights))",
            "  gradients          \(gib(mem.gradients))",
            "  AdamW moments      \(gib(mem.optimizerMoments))",
            "  activations        \(gib(mem.activations))  (estimate" + (gradientCheckpointing ? ", gradient checkpointing)" : ")"),
            "  bf16 packings      \(gib(mem.bf16Packings))",
            "  total              \(gib(mem.total))",
        ]
        return lines.joined(separator: "\n")
    }
}
