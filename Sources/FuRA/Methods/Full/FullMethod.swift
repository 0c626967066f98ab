import FuRAModels
import FuRANN

extension MethodName { public static let full: MethodName = "full" }

/// Full fine-tuning: every weight trains; the run saves a dense model instead of an adapter.
public struct FullMethod: FineTuningMethod {
    public static let name = MethodName.full
    public static let help = "full: every weight trains (saves a dense model, no adapter)"
    /// Torch's default AdamW weight decay 0.01 (Docs/recipes.md §2).
    public static var sftRecipe: MethodRecipe { MethodRecipe(weightDecay: 0.01) }
    public static var rlRecipe: MethodRecipe { MethodRecipe() }
    public static let adapterFormat = AdapterFormat.denseModel

    public init(settings: MethodSettings) throws {
        if let targets = settings.targetList, Set(targets) != ["all-linear"] {
            throw MethodError.invalidOption(method: "full", option: "target_modules", value: targets.joined(separator: ","),
                                            expected: "no value: full fine-tuning trains every weight (use fura, lora, … to adapt some projections)")
        }
    }

    public init(adapter: AdapterMethod) throws {}

    public func describe(baseModel: String) -> AdapterMethod { AdapterMethod(method: Self.name, baseModel: baseModel) }

    public func apply(to model: any LanguageModel, seed: UInt64) throws -> MethodApplication {
        for (_, p) in model.namedParameters { p.trainable = true }
        return MethodApplication(summary: "full: every parameter trains")
    }

    public func attach(to model: any LanguageModel, fingerprints: [String: [Double]], adapterPath: String) throws -> [(key: String, parameter: Parameter)] {
        throw MethodError.invalidOption(method: "full", option: "adapter", value: adapterPath,
                                        expected: "a model directory: full fine-tuning saves the whole model (DIR/model), not an adapter")
    }

    public func planModule(_ p: PlannedProjection) throws -> PlannedModule { PlannedModule(trainable: p.denseCount, frozen: 0) }
    public var nonProjectionTraining: NonProjectionTraining { .all }
}
