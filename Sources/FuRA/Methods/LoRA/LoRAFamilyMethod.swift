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

/// What makes one member of the LoRA family: its name, help line, recipes and `variant`. A member is a caseless
/// enum in its own folder; `LoRAFamilyMethod<Member>` is the method.
public protocol LoRAFamilyMember {
    static var name: MethodName { get }
    static var help: String { get }
    static var variant: LoRAVariant { get }
    static var sftRecipe: MethodRecipe { get }
    static var rlRecipe: MethodRecipe { get }
}

/// The LoRA family (LoRA, DoRA, PiSSA, QLoRA, QDoRA): PEFT adapters on the target projections; wrapping, planning
/// and the adapter description are shared here, what differs is the member's `variant`.
public struct LoRAFamilyMethod<Member: LoRAFamilyMember>: FineTuningMethod {
    public static var name: MethodName { Member.name }
    public static var help: String { Member.help }
    public static var sftRecipe: MethodRecipe { Member.sftRecipe }
    public static var rlRecipe: MethodRecipe { Member.rlRecipe }
    public static var variant: LoRAVariant { Member.variant }
    public static var adapterFormat: AdapterFormat { .peftLoRA(dora: variant.dora, base: variant.base) }
    /// Each base is read once into its frozen copy (NF4 for QLoRA and QDoRA).
    public static var streamsProjections: Bool { true }
    /// Rank, α, dropout, rsLoRA.
    public let lora: LoRAOptions
    /// The `target_modules` list as given (leaves, groups or `all-linear`).
    public let targetModules: [String]

    public init(lora: LoRAOptions, targetModules: [String]) throws {
        self.lora = lora
        self.targetModules = targetModules
        _ = try targetLeaves()
    }

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
        return MethodApplication(preMicroBatch: { update, microBatch in
            for (index, layer) in layers.enumerated() {
                let dropoutSeed = seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(update) &* 0x9E37_79B9_7F4A_7C15
                    &+ UInt64(microBatch) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(index)
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
        let chosen = model.linearSlotNames.enumerated().compactMap { index, slot -> (seed: UInt64, slot: String, layer: any LinearLayer)? in
            guard targets.contains(slot.leafName), let layer = model.linear(named: slot) else { return nil }
            return (seed &+ UInt64(index) &* 0x9E37_79B9, slot, layer)
        }
        // Side by side (PiSSA's SVDs dominate); each adapter depends only on its own layer and seed.
        let notRun = TensorError.invalidArgument(operation: Self.name.rawValue, message: "projection not wrapped")
        var made = [Result<any LinearLayer, any Error>](repeating: .failure(notRun), count: chosen.count)
        made.withUnsafeMutableBufferPointer { out in
            ConversionSchedule.forEach(Array(chosen.indices)) { k in
                out[k] = Result { try adapter(for: chosen[k].layer, seed: chosen[k].seed, initialize: initialize) }
            }
        }
        var slots = [String]()
        for (entry, result) in zip(chosen, made) {
            let adapter = try result.get()
            for (name, p) in adapter.parameters { p.name = entry.slot + "." + name }
            try model.setLinear(adapter, named: entry.slot)
            slots.append(entry.slot)
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

    /// The adapter around one projection.
    func adapter(for layer: any LinearLayer, seed: UInt64, initialize: Bool) throws -> any LinearLayer {
        if Self.variant.dora {
            return try DoRALinear(wrapping: layer, format: Self.variant.base, options: DoRAOptions(lora: lora), seed: seed)
        }
        if Self.variant.principalInit && initialize { return try LoRALinear(principalOf: layer, options: lora, seed: seed) }
        return try LoRALinear(wrapping: layer, format: Self.variant.base, options: lora, seed: seed)
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
    /// The quantized baselines: dropout 0.05 on all seven projections (Docs/recipes.md §6).
    static func quantized(rank: Int, alpha: Double) -> MethodSettings {
        MethodSettings(loraRank: rank, loraAlpha: alpha, loraDropout: 0.05, targetModules: "all-linear")
    }
    static let quantizedRL = MethodSettings(loraRank: 32, loraAlpha: 32, loraDropout: 0, targetModules: "all-linear")
}
