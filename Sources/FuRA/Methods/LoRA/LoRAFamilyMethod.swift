import FuRAModels
import FuRANN
import FuRATensor

/// How a LoRA-family member differs from plain LoRA.
public struct LoRAVariant: Sendable {
    /// DoRA's magnitude vector.
    public var dora: Bool
    /// The frozen base's storage (NF4 for QLoRA/QDoRA).
    public var base: FrozenWeightFormat
    /// PiSSA: A, B from the principal singular vectors and values of W, the residual frozen.
    public var principalInit: Bool
    public init(dora: Bool = false, base: FrozenWeightFormat = .float32, principalInit: Bool = false) {
        self.dora = dora; self.base = base; self.principalInit = principalInit
    }
}

/// The LoRA family (LoRA, DoRA, PiSSA, QLoRA, QDoRA): PEFT adapters on the target projections. A member
/// states its name, recipe and `variant`; wrapping, planning and adapter description are shared here.
public protocol LoRAFamilyMethod: FineTuningMethod {
    static var variant: LoRAVariant { get }
    var lora: LoRAOptions { get }
    /// The `target_modules` list as given (leaves, groups or `all-linear`).
    var targetModules: [String] { get }
    init(lora: LoRAOptions, targetModules: [String]) throws
}

extension LoRAFamilyMethod {
    public static var adapterFormat: AdapterFormat { .peftLoRA(dora: variant.dora, base: variant.base) }

    public init(settings: MethodSettings) throws {
        try self.init(lora: settings.loraOptions(method: Self.name),
                      targetModules: settings.targetList ?? Self.sftRecipe.settings.targetList ?? ProjectionGroups.allLinear)
    }

    public init(adapter: AdapterMethod) throws {
        try self.init(lora: adapter.lora, targetModules: adapter.targetModules)
    }

    public func describe(baseModel: String) -> AdapterMethod {
        AdapterMethod(method: Self.name, lora: lora, targetModules: targetModules, baseModel: baseModel)
    }

    /// The leaves `targetModules` selects.
    public func targetLeaves() throws -> Set<String> { try ConversionOptions.leaves(of: targetModules) }

    public func apply(to model: any LanguageModel, seed: UInt64) throws -> MethodApplication {
        let slots = try wrap(model, seed: seed, initialize: true)
        let layers = slots.compactMap { model.linear(named: $0) }
        return MethodApplication(preUpdate: { update in
            for (index, layer) in layers.enumerated() {
                let dropoutSeed = seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(update) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index)
                if let l = layer as? LoRALinear { l.dropoutRNG = RNG(seed: dropoutSeed) }
                if let d = layer as? DoRALinear { d.dropoutRNG = RNG(seed: dropoutSeed) }
            }
        }, summary: "\(Self.name): r \(lora.rank), alpha \(lora.alpha), dropout \(lora.dropout)\(lora.useRSLoRA ? ", rsLoRA" : "") on "
            + "\(slots.count) projections (\(try targetLeaves().sorted().joined(separator: ", "))), base \(Self.variant.base.rawValue)"
            + (Self.variant.principalInit ? ", PiSSA initialization" : ""))
    }

    /// Freezes everything and wraps every targeted projection (`initialize`: the method's own start, else a
    /// placeholder the adapter's tensors overwrite). Returns the wrapped slots; throws when none is targeted.
    @discardableResult
    public func wrap(_ model: any LanguageModel, seed: UInt64, initialize: Bool) throws -> [String] {
        let targets = try targetLeaves()
        for (_, p) in model.namedParameters { p.trainable = false }
        var slots = [String]()
        for (index, slot) in model.linearSlotNames.enumerated() where targets.contains(slot.leafName) {
            guard let layer = model.linear(named: slot) else { continue }
            let layerSeed = seed &+ UInt64(index) &* 0x9E37_79B9
            let adapter: any LinearLayer
            if Self.variant.dora {
                adapter = try DoRALinear(wrapping: layer, format: Self.variant.base, options: DoRAOptions(lora: lora), seed: layerSeed)
            } else if Self.variant.principalInit && initialize {
                adapter = try LoRALinear(principalOf: layer, options: lora, seed: layerSeed)
            } else {
                adapter = try LoRALinear(wrapping: layer, format: Self.variant.base, options: lora, seed: layerSeed)
            }
            for (name, p) in adapter.parameters { p.name = slot + "." + name }
            try model.setLinear(adapter, named: slot)
            slots.append(slot)
        }
        guard !slots.isEmpty else {
            throw MethodError.invalidOption(method: Self.name.rawValue, option: "target_modules", value: targetModules.joined(separator: ","),
                                            expected: "projections this model has (\(ProjectionGroups.allLinear.joined(separator: ", ")))")
        }
        return slots
    }

    public func attach(to model: any LanguageModel, fingerprints: [String: [Double]], adapterPath: String) throws -> [(key: String, parameter: Parameter)] {
        try wrap(model, seed: 0, initialize: false).flatMap { slot in
            (model.linear(named: slot)?.parameters ?? []).filter { $0.name != "bias" }.map { ("base_model.model." + slot + "." + $0.name, $0.parameter) }
        }
    }

    public func planModule(_ p: PlannedProjection) throws -> PlannedModule {
        guard try targetLeaves().contains(p.leaf) else {
            return PlannedModule(trainable: 0, frozen: p.denseCount, quantized: Self.variant.base == .float32 ? 0 : p.outFeatures * p.inFeatures)
        }
        return PlannedModule(trainable: lora.rank * (p.inFeatures + p.outFeatures) + (Self.variant.dora ? p.outFeatures : 0),
                             frozen: p.denseCount, quantized: Self.variant.base == .float32 ? 0 : p.outFeatures * p.inFeatures)
    }

    public var activationsPerAdaptedProjection: Int { lora.rank }
}

/// The reference recipes' LoRA settings (Docs/recipes.md §2): r 64, α 128, dropout 0.05 on q, k, v, up, down.
enum LoRARecipes {
    static let referenceTargets = "q_proj,k_proj,v_proj,up_proj,down_proj"
    static let sft = MethodSettings(loraRank: 64, loraAlpha: 128, loraDropout: 0.05, targetModules: referenceTargets)
    /// The RL recipe (Docs/recipes.md §4): r 32, α 32, no dropout.
    static let rl = MethodSettings(loraRank: 32, loraAlpha: 32, loraDropout: 0, targetModules: referenceTargets)
}
