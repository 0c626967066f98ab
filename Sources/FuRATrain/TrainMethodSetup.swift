import Foundation
import FuRA
import FuRAModels
import FuRANN
import FuRATensor

/// Turns a loaded dense model into the model a method trains: converts projections (FuRA, SVD), wraps
/// them in adapters (LoRA, DoRA, and their NF4 forms), or unfreezes everything (full), and sets what trains.
public struct TrainMethodSetup {
    /// Called before each 0-based optimizer step (reseeds adapter dropout so it is a pure function of the step,
    /// which keeps a resumed run bit-identical).
    public var preStep: ((Int) throws -> Void)?
    /// Called after each optimizer step (BTT `normalize_after_update` when asked).
    public var postStep: ((Int) throws -> Void)?
    /// One line on what was done.
    public var summary: String

    /// The LoRA reference's target modules (`finetune_commonsense_lora.sh`, spec §4.5).
    public static let loraTargets = ["q_proj", "k_proj", "v_proj", "up_proj", "down_proj"]
    /// The quantized baselines' default: all seven projections (spec §7).
    public static let allProjections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    /// Applies `config.method` to `model` (whose projections must still be dense).
    public static func apply(_ config: TrainConfig, to model: any LanguageModel,
                             conversion: ConversionOptions? = nil, quantization: QFuRAOptions? = nil) throws -> TrainMethodSetup {
        switch config.method {
        case .fura, .svd:
            let options = try conversion ?? config.conversionOptions() ?? ConversionOptions(method: config.method == .fura ? .fura : .svd)
            let report = try Conversion.convert(model, options: options, measureReconstruction: false)
            var setup = TrainMethodSetup(summary: "\(config.method.rawValue): converted \(report.modules.count) projections")
            if options.normalizeAfterUpdate {
                setup.postStep = { _ in Conversion.normalizeAfterUpdate(model) }
            }
            return setup
        case .full:
            for (_, p) in model.namedParameters { p.trainable = true }
            return TrainMethodSetup(summary: "full: every parameter trains")
        case .lora, .dora, .qlora, .qdora:
            let quantized = config.method == .qlora || config.method == .qdora
            let format: FrozenWeightFormat = quantized ? .nf4DoubleQuant : .float32
            let targets = config.method == .lora || config.method == .dora ? loraTargets : allProjections
            let lora = LoRAOptions(rank: config.loraRank ?? 64, alpha: Float(config.loraAlpha ?? 128),
                                   dropout: Float(config.loraDropout ?? 0.05))
            for (_, p) in model.namedParameters { p.trainable = false }
            var slots = [String]()
            for (index, slot) in model.linearSlotNames.enumerated() where targets.contains(slot.leafName) {
                guard let layer = model.linear(named: slot) else { continue }
                let seed = config.seed &+ UInt64(index) &* 0x9E37_79B9
                let adapter: any LinearLayer = config.method == .lora || config.method == .qlora
                    ? try LoRALinear(wrapping: layer, format: format, options: lora, seed: seed)
                    : try DoRALinear(wrapping: layer, format: format, options: DoRAOptions(lora: lora), seed: seed)
                for (name, p) in adapter.parameters { p.name = "\(slot).\(name)" }
                try model.setLinear(adapter, named: slot)
                slots.append(slot)
            }
            guard !slots.isEmpty else {
                throw TrainingError.invalidOption(option: "method", value: config.method.rawValue,
                                                  reason: "the model has none of the target projections \(targets.joined(separator: ", "))")
            }
            let seed = config.seed
            let setup = TrainMethodSetup(preStep: { step in
                for (index, slot) in slots.enumerated() {
                    let dropoutSeed = seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index)
                    if let layer = model.linear(named: slot) as? LoRALinear { layer.dropoutRNG = RNG(seed: dropoutSeed) }
                    if let layer = model.linear(named: slot) as? DoRALinear { layer.dropoutRNG = RNG(seed: dropoutSeed) }
                }
            }, summary: "\(config.method.rawValue): r \(lora.rank), alpha \(lora.alpha), dropout \(lora.dropout) on "
                + "\(slots.count) projections (\(targets.joined(separator: ", "))), base \(format.rawValue)")
            return setup
        case .qfura:
            // Spec §3.1: convert as FuRA (trainability set), then store each frozen core in NF4.
            let options = try conversion ?? config.conversionOptions() ?? ConversionOptions(method: .fura)
            let quant = try quantization ?? config.quantizationOptions()
            let report = try Conversion.convert(model, options: options, measureReconstruction: false)
            let slots = try Conversion.quantizeFrozenCores(model, options: quant)
            let storage = Conversion.quantizedCoreStorage(model)
            var setup = TrainMethodSetup(summary: "qfura: converted \(report.modules.count) projections, \(slots.count) frozen cores in NF4 "
                + "(\(quant.layout.rawValue)\(quant.doubleQuantization ? ", double quant" : ""), "
                + String(format: "%.1f MB", Double(storage.bytes) / 1e6) + ")")
            if options.normalizeAfterUpdate {
                setup.postStep = { _ in Conversion.normalizeAfterUpdate(model) }
            }
            return setup
        }
    }
}
