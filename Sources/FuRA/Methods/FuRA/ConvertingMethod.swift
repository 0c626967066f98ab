import Foundation
import FuRAModels
import FuRANN

/// The methods that convert projections exactly (FuRA, QFuRA, SVD): conversion options in, converted layers with
/// frozen-core fingerprints out. A member states its conversion kind, recipe, and the per-projection counts.
public protocol ConvertingMethod: FineTuningMethod {
    /// The conversion settings (target modules included), validated.
    var conversion: ConversionOptions { get }
    /// The defaults the settings are applied to.
    static var baseConversion: ConversionOptions { get }
    init(conversion: ConversionOptions, quantization: QFuRAOptions?) throws
    /// Runs after the conversion (QFuRA stores the frozen cores in NF4); returns the summary line, nil to keep the default.
    func afterConversion(_ model: any LanguageModel, report: ConversionReport) throws -> String?
    /// What each converted layer becomes on its converting thread, before the next module is read (QFuRA: its frozen
    /// core in NF4); nil keeps the converted layer.
    var moduleFinish: Conversion.ModuleFinish? { get }
}

extension ConvertingMethod {
    public init(settings: MethodSettings) throws {
        try self.init(conversion: settings.conversionOptions(base: Self.baseConversion),
                      quantization: Self.adapterFormat == .converted(quantized: true) ? settings.quantizationOptions() : nil)
    }

    public init(adapter: AdapterMethod) throws {
        guard let conversion = adapter.conversion else {
            throw MethodError.invalidOption(method: Self.name.rawValue, option: "conversion", value: "null", expected: "the conversion options")
        }
        try self.init(conversion: conversion, quantization: adapter.quantization)
    }

    public func afterConversion(_ model: any LanguageModel, report: ConversionReport) throws -> String? { nil }
    public var moduleFinish: Conversion.ModuleFinish? { nil }
    public static var streamsProjections: Bool { true }
    /// FuRA keeps L's bf16 panels (W_eff is formed per product).
    public var bf16PackedCopies: Int { 1 }

    public func describe(baseModel: String) -> AdapterMethod {
        AdapterMethod(method: Self.name, conversion: conversion, baseModel: baseModel)
    }

    /// Converts the targeted projections and reports each; BTT `normalize_after_update` runs after every update when asked.
    public func convert(_ model: any LanguageModel) throws -> (report: ConversionReport, application: MethodApplication) {
        let started = Date()
        let report = try Conversion.convert(model, options: conversion, measureReconstruction: false, finish: moduleFinish)
        let postUpdate: ((Int) throws -> Void)? = conversion.normalizeAfterUpdate ? { _ in Conversion.normalizeAfterUpdate(model) } : nil
        let summary = try afterConversion(model, report: report) ?? "\(Self.name): converted \(report.modules.count) projections"
        return (report, MethodApplication(postUpdate: postUpdate, summary: summary + String(format: " (%.1f s)", Date().timeIntervalSince(started))))
    }

    public func apply(to model: any LanguageModel, seed: UInt64) throws -> MethodApplication { try convert(model).application }

    /// Converts (and for QFuRA quantizes) as in training, then checks every converted module's frozen core against its
    /// stored fingerprint; the trained tensors are filled by name (`<slot>.btt_r`, …).
    public func attach(to model: any LanguageModel, fingerprints: [String: [Double]], adapterPath: String) throws -> [(key: String, parameter: Parameter)] {
        _ = try apply(to: model, seed: 0)
        var expected = [(key: String, parameter: Parameter)]()
        for slot in model.linearSlotNames {
            guard let layer = model.linear(named: slot), AdapterFiles.isConverted(layer) else { continue }
            let actual = CoreFingerprint.of(layer: layer)
            guard let stored = fingerprints[slot] else {
                throw AdapterError.badConfig(path: adapterPath + "/adapter_config.json", key: "fingerprints.\(slot)", value: "missing",
                                             expected: "a fingerprint for every converted module")
            }
            guard CoreFingerprint.matches(stored, actual) else {
                throw AdapterError.fingerprintMismatch(path: adapterPath, module: slot, expected: stored, actual: actual)
            }
            for (name, p) in layer.parameters where p.trainable { expected.append((slot + "." + name, p)) }
        }
        return expected
    }

    /// The counts of a projection `conversion` leaves alone.
    func untouched(_ p: PlannedProjection) throws -> PlannedModule? {
        try conversion.targetLeaves().contains(p.leaf) ? nil : PlannedModule(trainable: 0, frozen: p.denseCount)
    }

    /// BTT counts of one projection (Docs/factorization.md §10), shared by FuRA and QFuRA.
    func bttModule(_ p: PlannedProjection) throws -> (PlannedModule, sides: (left: Bool, right: Bool)) {
        let lo = try conversion.layerOptions(slot: p.slot, inFeatures: p.inFeatures, outFeatures: p.outFeatures, headShape: p.headShape)
        let g = try lo.geometry(inFeatures: p.inFeatures, outFeatures: p.outFeatures, module: p.slot)
        let target = try g.mergeTarget(lo.sMergedTo, trainPosition: lo.trainPosition, convertMode: lo.convertMode, module: p.slot)
        let sides = g.trainableSides(lo.trainPosition)
        let sCount = target.keepsSingularValues ? g.singularCount : 0
        let trainS = target == .keepTrainable
        let biasCount = p.hasBias ? p.outFeatures : 0
        let trainable = (sides.left ? g.leftCount : 0) + (sides.right ? g.rightCount : 0) + (trainS ? sCount : 0)
            + (conversion.trainBias ? biasCount : 0)
        let frozen = (sides.left ? 0 : g.leftCount) + (sides.right ? 0 : g.rightCount) + (trainS ? 0 : sCount)
            + (conversion.trainBias ? 0 : biasCount)
        return (PlannedModule(trainable: trainable, frozen: frozen, geometry: g), sides)
    }
}
