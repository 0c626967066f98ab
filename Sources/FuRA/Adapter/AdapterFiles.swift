import Foundation
import FuRAFormats
import FuRAModels
import FuRANN
import FuRATensor

/// Saves and loads adapter directories: `adapter_config.json` + `adapter_model.safetensors`, in the file format the
/// method declares (`FineTuningMethod.adapterFormat`).
///
/// LoRA-family adapters use PEFT's config keys (`PEFTLoRAConfig`) and tensor names
/// (`base_model.model.<slot>.lora_A.weight` (r, I), `lora_B.weight` (O, r), `lora_magnitude_vector` (O)), so PyTorch
/// PEFT loads them; the quantized base is recorded in the safetensors metadata (`fura_method`). PiSSA adapters are
/// written as PEFT converts them for sharing (plain LoRA of rank 2r over the original base). FuRA/SVD adapters use
/// our schema (`ConvertedAdapterConfig`) and hold only the trained tensors (`<slot>.btt_r`, …); loading re-converts
/// the base weights and refuses a frozen core whose `CoreFingerprint` differs.
public enum AdapterFiles {
    public static let configName = "adapter_config.json"
    public static let tensorsName = "adapter_model.safetensors"
    /// The `format` value of FuRA/SVD adapter configs.
    public static let furaFormat = ConvertedAdapterConfig.formatName
    public static let formatVersion = ConvertedAdapterConfig.currentVersion
    static let peftPrefix = "base_model.model."

    /// The adapter directory `path` names: itself, or `path/adapter` for a run directory (`fura train`/`grpo --output`).
    public static func resolveDirectory(_ path: String) -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: path + "/" + configName) { return path }
        let inner = URL(fileURLWithPath: path).appendingPathComponent("adapter").path
        return fm.fileExists(atPath: inner + "/" + configName) ? inner : path
    }

    // MARK: Saving

    /// Writes the adapter of `model` (adapted by `method`) into `directory` (created if needed).
    /// Returns the names of the saved tensors.
    @discardableResult
    public static func save(_ model: any LanguageModel, method: AdapterMethod, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        AtomicWrite.removeLeftovers(in: directory)
        let dir = URL(fileURLWithPath: directory)
        let tensors: [(String, Tensor)]
        let config: Data
        switch method.format {
        case let .peftLoRA(dora, _): (tensors, config) = try peftFiles(model, method: method, dora: dora)
        case .converted: (tensors, config) = try convertedFiles(model, method: method)
        case .denseModel:
            throw AdapterError.nothingToSave(method: method.method.rawValue,
                                             reason: "full fine-tuning changes every weight (save the model instead)")
        }
        let metadata = ["format": "pt", "fura_method": method.method.rawValue, "format_version": "\(formatVersion)"]
        try SafetensorsWriter.writeFile(tensors, dtype: .f32, metadata: metadata, to: dir.appendingPathComponent(tensorsName).path)
        try AtomicWrite.write(config, to: dir.appendingPathComponent(configName).path)
        return tensors.map(\.0)
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// PEFT tensors and config of the LoRA/DoRA layers (PiSSA layers as their plain-LoRA equivalent).
    static func peftFiles(_ model: any LanguageModel, method: AdapterMethod, dora: Bool) throws -> ([(String, Tensor)], Data) {
        var tensors = [(String, Tensor)]()
        var leaves = Set<String>()
        var options: LoRAOptions?
        for slot in model.linearSlotNames {
            guard let layer = model.linear(named: slot) else { continue }
            let layerOptions: LoRAOptions
            var layerTensors = [(String, Tensor)]()
            if let l = layer as? LoRALinear, !dora {
                let plain = try l.plainLoRAFactors()
                layerOptions = plain.options
                layerTensors = [("lora_A.weight", plain.a), ("lora_B.weight", plain.b)]
            } else if let d = layer as? DoRALinear, dora {
                layerOptions = d.options.lora
                layerTensors = d.parameters.filter { $0.name != "bias" }.map { ($0.name, $0.parameter.value) }
            } else { continue }
            if let o = options, o != layerOptions {
                throw AdapterError.nothingToSave(method: method.method.rawValue,
                                                 reason: "\(slot) has rank/alpha \(layerOptions.rank)/\(layerOptions.alpha), others \(o.rank)/\(o.alpha); PEFT needs one setting")
            }
            options = layerOptions
            leaves.insert(slot.leafName)
            tensors += layerTensors.map { (peftPrefix + slot + "." + $0.0, $0.1) }
        }
        guard let lora = options else {
            throw AdapterError.nothingToSave(method: method.method.rawValue, reason: "the model has no \(dora ? "DoRA" : "LoRA") layers")
        }
        let config = PEFTLoRAConfig(r: lora.rank, loraAlpha: Double(lora.alpha), loraDropout: Double(lora.dropout), useDora: dora,
                                    useRslora: lora.useRSLoRA, targetModules: leaves.sorted(), baseModel: method.baseModel)
        return (tensors, try encode(config))
    }

    /// The trained tensors and fingerprints of the converted (BTT/SVD) projections.
    static func convertedFiles(_ model: any LanguageModel, method: AdapterMethod) throws -> ([(String, Tensor)], Data) {
        guard let conversion = method.conversion else {
            throw AdapterError.nothingToSave(method: method.method.rawValue, reason: "the conversion options are required")
        }
        var tensors = [(String, Tensor)]()
        var fingerprints = [String: [Double]]()
        for slot in model.linearSlotNames {
            guard let layer = model.linear(named: slot), isConverted(layer) else { continue }
            fingerprints[slot] = CoreFingerprint.of(layer: layer)
            for (name, p) in layer.parameters where p.trainable { tensors.append((slot + "." + name, p.value)) }
        }
        guard !fingerprints.isEmpty else {
            throw AdapterError.nothingToSave(method: method.method.rawValue, reason: "the model has no converted (BTT/SVD) projections")
        }
        let quantized = method.format == .converted(quantized: true)
        let config = ConvertedAdapterConfig(
            method: method.method.rawValue, baseModel: method.baseModel, conversion: conversion,
            quantization: quantized ? method.quantization ?? QFuRAOptions() : nil, fingerprints: fingerprints,
            fingerprint: "per converted module: Frobenius norm and 4 fixed ±1 sketches of its frozen tensors (CoreFingerprint)"
                + (quantized ? "; qfura: of the Float frozen core before NF4 quantization (the codes follow from it and `quantization`)" : ""))
        return (tensors, try encode(config))
    }

    // MARK: Loading

    /// Reads the method of the adapter in `directory` (or a run directory's `adapter/`) without touching a model.
    public static func readMethod(_ directory: String) throws -> AdapterMethod {
        let (method, _) = try readConfig(resolveDirectory(directory))
        return method
    }

    /// Applies the adapter in `directory` (or a run directory's `adapter/`) to `model`, whose projections must still
    /// be dense: the method re-applies itself (checking frozen-core fingerprints for converted methods), then the
    /// stored tensors are copied in, names and shapes checked. Returns the method.
    @discardableResult
    public static func load(_ directory: String, into model: any LanguageModel) throws -> AdapterMethod {
        let directory = resolveDirectory(directory)
        let (description, fingerprints) = try readConfig(directory)
        let path = URL(fileURLWithPath: directory).appendingPathComponent(tensorsName).path
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw AdapterError.unreadable(path: path, reason: "\(error)") }
        let method: any FineTuningMethod
        do { method = try MethodRegistry.make(adapter: description) } catch {
            throw AdapterError.badConfig(path: directory + "/" + configName, key: "method", value: description.method.rawValue, expected: "\(error)")
        }
        let expected = try method.attach(to: model, fingerprints: fingerprints, adapterPath: directory)
        try copy(expected, from: file, path: path)
        for slot in model.linearSlotNames {
            if let d = model.linear(named: slot) as? DoRALinear { try d.restoreNormCache(d.adaptedRowNorms()) }
        }
        return description
    }

    /// Whether `layer` is a converted projection (BTT, QFuRA or SVD) whose adapter stores trained tensors and a fingerprint.
    static func isConverted(_ layer: any LinearLayer) -> Bool { layer is BTTLayer || layer is QBTTLayer || layer is SVDLayer }

    /// Copies each expected tensor from `file`; every stored tensor must be used.
    static func copy(_ expected: [(key: String, parameter: Parameter)], from file: SafetensorsFile, path: String) throws {
        var unused = Set(file.tensorNames)
        for (key, p) in expected {
            guard unused.remove(key) != nil else { throw AdapterError.missingTensor(path: path, name: key) }
            let t = try file.tensor(named: key)
            guard t.shape == p.value.shape else {
                throw AdapterError.shapeMismatch(path: path, name: key, expected: p.value.shape, actual: t.shape)
            }
            if let bad = t.storage.firstIndex(where: { !$0.isFinite }) {
                throw AdapterError.badConfig(path: path, key: key, value: "element \(bad) = \(t.storage[bad])", expected: "finite values (the adapter is damaged)")
            }
            p.value = t
        }
        if let extra = unused.sorted().first { throw AdapterError.unexpectedTensor(path: path, name: extra) }
    }
}
