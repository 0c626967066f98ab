import Dispatch
import FuRANN
import FuRATensor

/// Converting the projections of a model to FuRA (BTT) or SVD layers, choosing what trains, counting,
/// and merging back to dense layers.
public enum Conversion {
    /// Replaces every targeted dense slot of `host` (`DenseLinear`, or `DeferredLinear`: its weight is read here and
    /// dropped once converted) by a BTT (or SVD) layer converted from its weight, passed through `finish` (QFuRA
    /// quantizes the frozen core there, so that only one module's f32 cores exist per thread), then sets trainability
    /// for the whole host (`configureTrainability`).
    ///
    /// Modules convert side by side on `Threading.threadCount` threads, largest first, each on one thread; the host
    /// changes only once every module has converted, so any error (bad option, non-finite weight) leaves it untouched.
    /// - Parameter measureReconstruction: also compute ‖W − materialize‖ / ‖W‖ per module (one dense product each).
    /// - Returns: the per-module report, in slot order.
    @discardableResult
    public static func convert(_ host: LinearHost, options: ConversionOptions, measureReconstruction: Bool = true,
                               finish: ModuleFinish? = nil) throws -> ConversionReport {
        let plans = try plan(host, options: options)
        let converted = try convertSideBySide(plans, options: options, measureReconstruction: measureReconstruction, finish: finish)
        var report = ConversionReport(method: options.method, modules: [])
        for (plan, result) in zip(plans, converted) {
            let layer = result.layer
            for (name, p) in layer.parameters { p.name = "\(plan.slot).\(name)" }
            try host.setLinear(layer, named: plan.slot)
            report.modules.append(ModuleConversion(
                slot: plan.slot, geometry: (layer as? BTTLayer)?.geometry ?? (layer as? QBTTLayer)?.geometry,
                denseShape: [plan.dense.outFeatures, plan.dense.inFeatures],
                trainable: 0, frozen: 0, storageBytes: layer.parameters.reduce(0) { $0 + 4 * $1.parameter.count },
                reconstructionError: result.error.map(Double.init), seconds: result.seconds))
        }
        try configureTrainability(host, options: options)
        for index in report.modules.indices {
            guard let layer = host.linear(named: report.modules[index].slot) else { continue }
            report.modules[index].trainable = layer.parameters.filter { $0.parameter.trainable }.reduce(0) { $0 + $1.parameter.count }
            report.modules[index].frozen = layer.parameters.filter { !$0.parameter.trainable }.reduce(0) { $0 + $1.parameter.count }
        }
        return report
    }

    /// What `convert` does to each converted layer before it goes into its slot (on the converting thread).
    public typealias ModuleFinish = (_ layer: any LinearLayer, _ slot: String) throws -> any LinearLayer

    /// One module to convert: its slot, dense layer (resident or deferred), resolved BTT options (nil for SVD) and block grid.
    struct ModulePlan {
        var slot: String
        var dense: any LinearLayer
        var options: BTTLayerOptions?
        var geometry: BTTGeometry?

        /// Relative factorization cost (multiply-adds of the block SVDs, O·I·min(a, b)), to schedule largest first.
        var cost: Int {
            let (o, i) = (dense.outFeatures, dense.inFeatures)
            guard let g = geometry else { return o * i * min(o, i) }
            return o * i * min(g.a, g.b)
        }
    }

    /// Checks every targeted slot and resolves its options (cheap; no weight is read).
    static func plan(_ host: LinearHost, options: ConversionOptions) throws -> [ModulePlan] {
        try options.validate()
        let targets = try options.targetLeaves()
        var plans: [ModulePlan] = []
        for slot in host.linearSlotNames where targets.contains(slot.leafName) {
            guard let layer = host.linear(named: slot) else { throw ConversionError.unknownSlot(module: slot) }
            guard layer is DenseLinear || layer is DeferredLinear else {
                throw ConversionError.wrongLayerType(module: slot, expected: "DenseLinear", actual: "\(type(of: layer))")
            }
            let dense = layer
            switch options.method {
            case .fura:
                let layerOptions = try options.layerOptions(slot: slot, inFeatures: dense.inFeatures, outFeatures: dense.outFeatures,
                                                            headShape: host.headShape)
                let g = try layerOptions.geometry(inFeatures: dense.inFeatures, outFeatures: dense.outFeatures, module: slot)
                _ = try g.mergeTarget(layerOptions.sMergedTo, trainPosition: layerOptions.trainPosition,
                                      convertMode: layerOptions.convertMode, module: slot)
                plans.append(ModulePlan(slot: slot, dense: dense, options: layerOptions, geometry: g))
            case .svd:
                _ = try options.svdTrainPosition()
                plans.append(ModulePlan(slot: slot, dense: dense, options: nil, geometry: nil))
            }
        }
        return plans
    }

    /// A converted module: the new layer, its reconstruction error when measured, and its conversion wall time.
    struct ConvertedModule {
        var layer: any LinearLayer
        var error: Float?
        var seconds: Double
    }

    /// Converts every plan, largest first, each thread taking the next module when it is free.
    /// Throws the error of the first failing module in slot order.
    static func convertSideBySide(_ plans: [ModulePlan], options: ConversionOptions,
                                  measureReconstruction: Bool, finish: ModuleFinish?) throws -> [ConvertedModule] {
        // Largest first; equal costs in slot order.
        let order = plans.indices.sorted { plans[$0].cost != plans[$1].cost ? plans[$0].cost > plans[$1].cost : $0 < $1 }
        let notRun = TensorError.invalidArgument(operation: "conversion", message: "module not converted")
        var results = [Result<ConvertedModule, any Error>](repeating: .failure(notRun), count: plans.count)
        results.withUnsafeMutableBufferPointer { out in
            ConversionSchedule.forEach(order) { index in
                out[index] = Result {
                    try convertOne(plans[index], options: options, measureReconstruction: measureReconstruction, finish: finish)
                }
            }
        }
        return try results.map { try $0.get() }
    }

    /// Converts one module on the calling thread; the reconstruction error is measured before `finish`.
    static func convertOne(_ plan: ModulePlan, options: ConversionOptions, measureReconstruction: Bool,
                           finish: ModuleFinish?) throws -> ConvertedModule {
        let start = DispatchTime.now().uptimeNanoseconds
        let w = try plan.dense.denseWeight()
        let layer: any LinearLayer
        if let layerOptions = plan.options {
            layer = try BTTLayer(converting: w, bias: plan.dense.denseBias, options: layerOptions, module: plan.slot)
        } else {
            layer = try SVDLayer(converting: w, bias: plan.dense.denseBias, trainPosition: try options.svdTrainPosition(),
                                 sMergedTo: options.sMergedTo, trainBias: options.trainBias, precision: options.svdPrecision,
                                 module: plan.slot)
        }
        let error = measureReconstruction ? try layer.denseWeight().relativeError(to: w) : nil
        let finished = try finish?(layer, plan.slot) ?? layer
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return ConvertedModule(layer: finished, error: error, seconds: seconds)
    }

    /// Sets what trains in the whole host (Docs/factorization.md §9 for FuRA, §2 for SVD): everything frozen, then per converted
    /// layer the chosen core(s), S iff `keep_trainable`, biases iff `train_bias`.
    ///
    /// FuRA with `train_position both` is the reference's "FuRA (full)": every parameter of the host trains.
    /// SVD with `both` also trains the embeddings and the LM head (`train_embed_lm_head`).
    public static func configureTrainability(_ host: LinearHost, options: ConversionOptions) throws {
        try options.validate()
        for (_, p) in host.otherParameters { p.trainable = false }
        for slot in host.linearSlotNames {
            guard let layer = host.linear(named: slot) else { continue }
            for (_, p) in layer.parameters { p.trainable = false }
        }
        let trainS = options.sMergedTo == .keepTrainable
        switch options.method {
        case .fura:
            let position = try options.bttTrainPosition()
            for slot in host.linearSlotNames {
                if let btt = host.linear(named: slot) as? BTTLayer { try configureTrainability(btt, options: options) }
                (host.linear(named: slot) as? QBTTLayer)?.configureTrainability(trainBias: options.trainBias, trainSingularValues: trainS)
            }
            if position == .both {
                for (_, p) in allParameters(host) { p.trainable = true }
            }
        case .svd:
            let position = try options.svdTrainPosition()
            for slot in host.linearSlotNames {
                (host.linear(named: slot) as? SVDLayer)?.configureTrainability(
                    trainPosition: position, trainBias: options.trainBias, trainSingularValues: trainS)
            }
            if position == .both {
                for (name, p) in host.otherParameters where name.contains("embed_tokens") || name.contains("lm_head") {
                    p.trainable = true
                }
            }
        }
    }

    /// What trains in one BTT layer under `options` (the chosen core(s), S iff `keep_trainable`, the bias iff
    /// `train_bias`): the per-layer rule of `configureTrainability`, also applied by QFuRA before it quantizes a layer.
    public static func configureTrainability(_ layer: BTTLayer, options: ConversionOptions) throws {
        layer.configureTrainability(trainPosition: try options.bttTrainPosition(), trainBias: options.trainBias,
                                    trainSingularValues: options.sMergedTo == .keepTrainable)
    }

    /// Every parameter of the host with its full name: slot parameters as `slot.name`, then `otherParameters`.
    public static func allParameters(_ host: LinearHost) -> [(name: String, parameter: Parameter)] {
        var out: [(name: String, parameter: Parameter)] = []
        for slot in host.linearSlotNames {
            guard let layer = host.linear(named: slot) else { continue }
            for (name, p) in layer.parameters { out.append(("\(slot).\(name)", p)) }
        }
        return out + host.otherParameters
    }

    /// Parameter counts of the host, in total and by module leaf name (`q_proj`, `embed_tokens`, `input_layernorm`…).
    public static func parameterCounts(_ host: LinearHost) -> ParameterCounts {
        var counts = ParameterCounts()
        for (name, p) in allParameters(host) {
            counts.add(module: moduleLeaf(of: name), count: p.count, trainable: p.trainable)
        }
        return counts
    }

    /// `model.layers.0.self_attn.q_proj.btt_r` → `q_proj`; `lm_head.weight` → `lm_head`.
    static func moduleLeaf(of parameterName: String) -> String {
        let parts = parameterName.split(separator: ".").map(String.init)
        guard parts.count >= 2 else { return parameterName }
        return parts[parts.count - 2]
    }

    /// Replaces every non-dense slot by a `DenseLinear` holding its materialized weight and bias (the merge of spec
    /// §1.10 / §2). The dense layers are frozen. Returns the merged slot names.
    @discardableResult
    public static func materialize(_ host: LinearHost) throws -> [String] {
        var merged: [String] = []
        for slot in host.linearSlotNames {
            guard let layer = host.linear(named: slot), !(layer is DenseLinear) else { continue }
            let dense = try DenseLinear(weight: try layer.denseWeight(), bias: layer.denseBias)
            for (name, p) in dense.parameters { p.name = "\(slot).\(name)" }
            try host.setLinear(dense, named: slot)
            merged.append(slot)
        }
        return merged
    }

    /// Docs/factorization.md §15 over the host: renormalizes the trainable cores of every BTT layer. Call after each optimizer
    /// step when `normalize_after_update` is set.
    public static func normalizeAfterUpdate(_ host: LinearHost, eps: Float = 1e-12) {
        for slot in host.linearSlotNames {
            (host.linear(named: slot) as? BTTLayer)?.normalizeAfterUpdate(eps: eps)
            (host.linear(named: slot) as? QBTTLayer)?.normalizeAfterUpdate(eps: eps)
        }
    }
}

/// Trainable / frozen / total parameter counts, overall and by module leaf name.
public struct ParameterCounts: Equatable, Codable, Sendable {
    public struct Entry: Equatable, Codable, Sendable {
        public var trainable = 0
        public var frozen = 0
        public var total: Int { trainable + frozen }
    }
    public var byModule: [String: Entry] = [:]
    public var trainable = 0
    public var frozen = 0
    public var total: Int { trainable + frozen }

    public init() {}

    mutating func add(module: String, count: Int, trainable isTrainable: Bool) {
        if isTrainable { trainable += count; byModule[module, default: Entry()].trainable += count } else {
            frozen += count; byModule[module, default: Entry()].frozen += count
        }
    }
}
