import FuRAModels
import FuRANN

/// One fine-tuning method (FuRA, SVD, LoRA, DoRA, PiSSA, full, and their NF4 forms), implemented once in its
/// own folder under `Methods/` and listed in `MethodRegistry`. Every command reaches a method only through this:
/// `fura train`/`grpo` (`apply`), `fura plan` (`planModule`), `fura inspect --method`, `--adapter`, merge and
/// export (`describe` and `init(adapter:)`, with the files written by `AdapterFiles` in the method's
/// `adapterFormat`). Merging needs nothing method-specific: every adapted layer folds itself (`denseWeight()`).
public protocol FineTuningMethod {
    /// The registry name.
    static var name: MethodName { get }
    /// One line for `--help`.
    static var help: String { get }
    /// The reference SFT recipe's values for this method (Docs/recipes.md §2, §7).
    static var sftRecipe: MethodRecipe { get }
    /// The reference RL recipe's values (Docs/recipes.md §4).
    static var rlRecipe: MethodRecipe { get }
    /// What the trained model is saved as.
    static var adapterFormat: AdapterFormat { get }

    /// Builds the typed options from `settings` (recipe defaults already filled in) and validates every value;
    /// needs no model, so a bad value fails before anything is loaded.
    init(settings: MethodSettings) throws
    /// Rebuilds the method an adapter directory describes.
    init(adapter: AdapterMethod) throws
    /// What this method's adapter records about it.
    func describe(baseModel: String) -> AdapterMethod
    /// Converts or wraps `model`'s projections and sets what trains; `seed` seeds random initializations.
    func apply(to model: any LanguageModel, seed: UInt64) throws -> MethodApplication
    /// Re-applies the method to a fresh `model` for loading an adapter (checking the frozen cores against
    /// `fingerprints` where the method stores them) and returns the parameters the adapter's tensors fill, by tensor name.
    func attach(to model: any LanguageModel, fingerprints: [String: [Double]], adapterPath: String) throws -> [(key: String, parameter: Parameter)]
    /// The counts of one projection (closed form, for `fura plan`).
    func planModule(_ projection: PlannedProjection) throws -> PlannedModule
    /// Which weights outside the projections train (full fine-tuning: all).
    var nonProjectionTraining: NonProjectionTraining { get }
    /// Extra activations kept per token and per adapted projection (LoRA's r), for the memory estimate.
    var activationsPerAdaptedProjection: Int { get }
    /// Whether `apply` reads each projection's weight once, through `denseWeight()`, and keeps only what it makes of
    /// it: the model may then be loaded with deferred projections (`ModelLoader.load(path:deferProjections:)`), and a
    /// conversion or an NF4 base holds one f32 weight per thread instead of the whole f32 model.
    static var streamsProjections: Bool { get }
    /// How many bf16 copies of each f32 projection weight stay packed at `--precision bf16` (for the memory plan): a
    /// weight used in both products is packed for each (2: LoRA-family bases, SVD's factors, full fine-tuning); FuRA
    /// keeps L's panels for dZ = G·Lᵀ and forms W_eff per product (1). NF4 weights are packed per tile (not counted).
    var bf16PackedCopies: Int { get }
}

extension FineTuningMethod {
    public static var rlRecipe: MethodRecipe { sftRecipe }
    public static var streamsProjections: Bool { false }
    public var nonProjectionTraining: NonProjectionTraining { .none }
    public var activationsPerAdaptedProjection: Int { 0 }
    public var bf16PackedCopies: Int { 2 }
    /// The registry name of this instance.
    public var name: MethodName { Self.name }
}

/// A recipe's values for one method: method settings plus the run values the reference changes per method.
public struct MethodRecipe: Sendable {
    public var settings: MethodSettings
    /// Examples held out for validation, evaluation cadence, weight decay (nil: the recipe's common value).
    public var valSize: Int?
    public var evaluates: Bool
    public var weightDecay: Double?
    public init(settings: MethodSettings = MethodSettings(), valSize: Int? = nil, evaluates: Bool = true, weightDecay: Double? = nil) {
        self.settings = settings; self.valSize = valSize; self.evaluates = evaluates; self.weightDecay = weightDecay
    }
}

/// What applying a method did, and the hooks it needs around every optimizer update.
public struct MethodApplication {
    /// Called before every micro-batch with the 0-based index of its optimizer update and its global index in the
    /// update's window (reseeds adapter dropout, so a resumed or multi-process run is bit-identical).
    public var preMicroBatch: ((_ update: Int, _ microBatch: Int) throws -> Void)?
    /// Called after every optimizer update with the count of updates done (BTT `normalize_after_update`).
    public var postUpdate: ((Int) throws -> Void)?
    /// One line on what was done.
    public var summary: String
    public init(preMicroBatch: ((_ update: Int, _ microBatch: Int) throws -> Void)? = nil, postUpdate: ((Int) throws -> Void)? = nil,
                summary: String) {
        self.preMicroBatch = preMicroBatch; self.postUpdate = postUpdate; self.summary = summary
    }
}

/// How a method's trained model is written.
public enum AdapterFormat: Equatable, Sendable {
    /// PEFT LoRA files (`lora_A`/`lora_B`, DoRA's magnitude), over a base stored as `base`.
    case peftLoRA(dora: Bool, base: FrozenWeightFormat)
    /// Our FuRA/SVD schema: trained tensors, conversion options and frozen-core fingerprints (NF4 cores when `quantized`).
    case converted(quantized: Bool)
    /// No adapter: every weight changes, the run saves a dense model.
    case denseModel
}

/// Weights outside the projections that a method trains.
public enum NonProjectionTraining: Sendable {
    case none
    /// Embeddings and LM head (SVD with train_position both).
    case embeddingsAndHead
    /// Every weight (full fine-tuning, FuRA with train_position both).
    case all
}

/// One projection of a model config, for `fura plan`.
public struct PlannedProjection: Sendable {
    /// Full slot name and leaf (`q_proj`).
    public var slot: String
    public var leaf: String
    public var outFeatures: Int
    public var inFeatures: Int
    public var hasBias: Bool
    public var headShape: HeadShape?
    /// Dense parameters (weight and bias).
    public var denseCount: Int { outFeatures * inFeatures + (hasBias ? outFeatures : 0) }
}

/// What a method makes of one projection.
public struct PlannedModule: Sendable {
    public var trainable: Int
    public var frozen: Int
    /// Frozen parameters stored in NF4.
    public var quantized: Int
    public var geometry: BTTGeometry?
    public init(trainable: Int, frozen: Int, quantized: Int = 0, geometry: BTTGeometry? = nil) {
        self.trainable = trainable; self.frozen = frozen; self.quantized = quantized; self.geometry = geometry
    }
}
