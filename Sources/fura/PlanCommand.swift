import ArgumentParser
import Foundation
import FuRA
import FuRAModels

/// `fura plan`: trainable/total parameter counts and a memory estimate from an HF config.json alone.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Parameter counts and a memory estimate for fine-tuning a model, from its config.json alone (no weights).")

    @Option(help: "Path to the model's HF config.json.")
    var config: String

    @Option(help: "fura, svd, lora, dora, full, qfura, qlora or qdora.")
    var method: String = "fura"

    @Option(help: "JSON file of FuRA/SVD conversion options (snake_case keys); flags below override it.")
    var options: String?

    @Option(name: .customLong("decomp-mode"), help: "square, output_one_block, input_one_block (or a group dict like {qkv:input,o:output}).")
    var decompMode: String?

    @Option(help: "full, a positive integer, or a float in (0, 1).")
    var rank: String?

    @Option(name: .customLong("s-merged-to"), help: "frozen, trainable, output, input, split, keep_frozen, keep_trainable, or none.")
    var sMergedTo: String?

    @Option(name: .customLong("train-position"), help: "small, large, both (fura); output, input, both (svd).")
    var trainPosition: String?

    @Option(name: .customLong("convert-mode"), help: "svd or qr.")
    var convertMode: String?

    @Option(name: .customLong("input-factorization"), help: "head, closest, n,b, or a dict of group/leaf to spec.")
    var inputFactorization: String?

    @Flag(name: .customLong("factorize-by-head"), inversion: .prefixedNo, help: "Head-aligned blocks for o_proj (and q/k/v outputs).")
    var factorizeByHead: Bool?

    @Flag(name: .customLong("train-bias"), inversion: .prefixedNo, help: "Train the biases of converted layers.")
    var trainBias: Bool?

    @Option(name: .customLong("target-modules"), help: "all-linear, mlp, attn, groups or leaf names, comma-separated.")
    var targetModules: String?

    @Option(name: .customLong("lora-r"), help: "LoRA rank (lora, dora, qlora, qdora).")
    var loraR: Int = 32

    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha (reported; does not change counts).")
    var loraAlpha: Double = 64

    @Option(name: .customLong("batch-size"), help: "Sequences per step, for the activation estimate.")
    var batchSize: Int = 1

    @Option(name: .customLong("seq-len"), help: "Tokens per sequence, for the activation estimate.")
    var seqLen: Int = 512

    @Flag(help: "Print the plan as JSON.")
    var json = false

    func run() throws {
        guard let planMethod = PlanMethod(rawValue: method) else {
            throw ValidationError("unknown --method \(method); expected one of \(PlanMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let model = try ModelConfig.load(contentsOf: URL(fileURLWithPath: config))
        let conversion = try buildConversionOptions(method: planMethod)
        var lora = LoRAPlanOptions(r: loraR, alpha: loraAlpha)
        if let t = targetModules, [.lora, .dora, .qlora, .qdora].contains(planMethod) { lora.targetModules = Self.list(t) }
        let plan = try ParameterPlan.make(config: model, method: planMethod, conversion: conversion, lora: lora,
                                          batchSize: batchSize, seqLen: seqLen)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(plan), as: UTF8.self))
        } else {
            print(Self.render(plan))
        }
    }

    /// The conversion options from `--options` and the flags, validated in `ConversionOptions`.
    func buildConversionOptions(method: PlanMethod) throws -> ConversionOptions {
        var o: ConversionOptions
        if let path = options {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            o = try JSONDecoder().decode(ConversionOptions.self, from: data)
        } else {
            o = ConversionOptions(method: method == .svd ? .svd : .fura)
        }
        if let v = decompMode { o.decompMode = try DecompModeSpec(parsing: v) }
        if let v = rank { o.rank = try BTTRank(parsing: v) }
        if let v = sMergedTo {
            if v == "none" || v == "null" { o.sMergedTo = nil } else {
                guard let s = SMergedTo(rawValue: v) else {
                    throw ConversionError.invalidValue(module: nil, option: "s_merged_to", value: v,
                                                       expected: SMergedTo.allCases.map(\.rawValue).joined(separator: ", ") + " or none")
                }
                o.sMergedTo = s
            }
        }
        if let v = trainPosition { o.trainPosition = v }
        if let v = convertMode {
            guard let c = ConvertMode(rawValue: v) else {
                throw ConversionError.invalidValue(module: nil, option: "convert_mode", value: v, expected: "svd or qr")
            }
            o.convertMode = c
        }
        if let v = inputFactorization { o.inputFactorization = try InputFactorizationSpec(parsing: v) }
        if let v = factorizeByHead { o.factorizeByHead = v }
        if let v = trainBias { o.trainBias = v }
        if let v = targetModules, ![.lora, .dora, .qlora, .qdora].contains(method) { o.targetModules = Self.list(v) }
        try o.validate()
        return o
    }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }

    static func render(_ plan: ParameterPlan) -> String {
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
            "  activations        \(gib(mem.activations))  (estimate)",
            "  total              \(gib(mem.total))",
        ]
        return lines.joined(separator: "\n")
    }
}
