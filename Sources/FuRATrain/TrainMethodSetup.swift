import Foundation
import FuRA
import FuRAModels
import FuRANN
import FuRATensor

/// Applies a run's method (through `MethodRegistry`) to a loaded dense model, and keeps the hooks it needs.
public struct TrainMethodSetup {
    /// Called before each micro-batch with its update's 0-based index and its index in the window (reseeds adapter dropout).
    public var preMicroBatch: ((_ update: Int, _ microBatch: Int) throws -> Void)?
    /// Called after each optimizer update (BTT `normalize_after_update` when asked).
    public var postUpdate: ((Int) throws -> Void)?
    /// One line on what was done.
    public var summary: String
    /// The method as applied (its adapter description and plan come from it).
    public var method: any FineTuningMethod

    /// The LoRA reference's target modules (`finetune_commonsense_lora.sh`, Docs/recipes.md §2).
    public static let loraTargets = ["q_proj", "k_proj", "v_proj", "up_proj", "down_proj"]

    /// Applies `config.method` to `model` (whose projections must still be dense); `conversion` and `quantization`
    /// replace the options the config gives, when set.
    public static func apply(_ config: TrainConfig, to model: any LanguageModel, recipe: MethodRegistry.Recipe = .sft,
                             conversion: ConversionOptions? = nil, quantization: QFuRAOptions? = nil) throws -> TrainMethodSetup {
        var method = try config.makeMethod(recipe: recipe)
        if conversion != nil || quantization != nil {
            var described = method.describe(baseModel: config.model)
            if let conversion { described.conversion = conversion }
            if let quantization { described.quantization = quantization }
            method = try MethodRegistry.make(adapter: described)
        }
        return try apply(method, to: model, seed: config.seed)
    }

    /// Applies `method` to `model`; projections the method left deferred (not targeted) are then read into memory.
    public static func apply(_ method: any FineTuningMethod, to model: any LanguageModel, seed: UInt64) throws -> TrainMethodSetup {
        let application = try method.apply(to: model, seed: seed)
        try DeferredLinear.settle(model)
        Allocator.releaseFreePages()   // the conversion's transients, freed between the cores it keeps
        return TrainMethodSetup(preMicroBatch: application.preMicroBatch, postUpdate: application.postUpdate, summary: application.summary, method: method)
    }
}
