import Foundation
import FuRAModels
import FuRANN

extension MethodName { public static let qfura: MethodName = "qfura" }

/// QFuRA: FuRA with the frozen core stored in NF4 (Docs/methods.md §9).
public struct QFuRAMethod: ConvertingMethod {
    public static let name = MethodName.qfura
    public static let help = "QFuRA: FuRA with the frozen core in NF4 (quant_block_layout, double_quant)"
    public static var sftRecipe: MethodRecipe { MethodRecipe() }
    public static let adapterFormat = AdapterFormat.converted(quantized: true)
    public static var baseConversion: ConversionOptions { ConversionOptions(method: .fura) }
    public let conversion: ConversionOptions
    public let quantization: QFuRAOptions

    public init(conversion: ConversionOptions, quantization: QFuRAOptions?) throws {
        var options = conversion
        options.method = .fura
        try options.validate()
        guard try options.bttTrainPosition() != .both else {
            throw ConversionError.incompatible(module: nil, option: "train_position", value: "both",
                                               reason: "qfura quantizes the one frozen core; it needs exactly one trainable core (small or large)")
        }
        self.conversion = options
        self.quantization = quantization ?? QFuRAOptions()
    }

    public func describe(baseModel: String) -> AdapterMethod {
        AdapterMethod(method: Self.name, conversion: conversion, baseModel: baseModel, quantization: quantization)
    }

    /// Docs/methods.md §9 as the reference's streaming `convert_and_quantize_linear_to_qbtt_streaming`: each module is
    /// converted as FuRA, its trainability set, and its frozen core stored in NF4 on the converting thread, so that only
    /// the modules in flight hold f32 cores (with a deferred load, one f32 weight per thread is ever read).
    public var moduleFinish: Conversion.ModuleFinish? {
        let (conversion, quantization) = (self.conversion, self.quantization)
        return { layer, slot in
            guard let btt = layer as? BTTLayer else { return layer }
            try Conversion.configureTrainability(btt, options: conversion)
            return try QBTTLayer(quantizing: btt, options: quantization, module: slot)
        }
    }

    public func afterConversion(_ model: any LanguageModel, report: ConversionReport) throws -> String? {
        let slots = model.linearSlotNames.filter { model.linear(named: $0) is QBTTLayer }
        let storage = Conversion.quantizedCoreStorage(model)
        return "qfura: converted \(report.modules.count) projections, \(slots.count) frozen cores in NF4 "
            + "(\(quantization.layout.rawValue)\(quantization.doubleQuantization ? ", double quant" : ""), "
            + String(format: "%.1f MB", Double(storage.bytes) / 1e6) + ")"
    }

    public func planModule(_ p: PlannedProjection) throws -> PlannedModule {
        if let module = try untouched(p) { return module }
        var (module, sides) = try bttModule(p)
        guard sides.left != sides.right, let g = module.geometry else {
            throw ConversionError.incompatible(module: p.slot, option: "train_position", value: conversion.trainPosition,
                                               reason: "qfura quantizes the one frozen core; it needs exactly one trainable core (small or large)")
        }
        module.quantized = sides.left ? g.rightCount : g.leftCount
        return module
    }
}
