import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRANN
import FuRATensor

/// Saves and loads adapter directories: `adapter_config.json` + `adapter_model.safetensors`.
///
/// LoRA/DoRA (and their NF4 forms) use PEFT's config keys and tensor names
/// (`base_model.model.<slot>.lora_A.weight` (r, I), `lora_B.weight` (O, r), `lora_magnitude_vector` (O)), so PyTorch
/// PEFT loads them; the quantized base is recorded in the safetensors metadata (`fura_method`). FuRA/SVD adapters
/// use our schema (`format: fura-adapter`, `format_version`, `method`, `conversion` = every `ConversionOptions` key
/// in snake_case, `fingerprints`) and hold only the trained tensors (`<slot>.btt_r`, …); loading re-converts the
/// base weights and refuses a frozen core whose `CoreFingerprint` differs.
public enum AdapterFiles {
    public static let configName = "adapter_config.json"
    public static let tensorsName = "adapter_model.safetensors"
    /// The `format` value of FuRA/SVD adapter configs.
    public static let furaFormat = "fura-adapter"
    public static let formatVersion = 1
    static let peftPrefix = "base_model.model."

    // MARK: Saving

    /// Writes the adapter of `model` (adapted by `method`) into `directory` (created if needed).
    /// Returns the names of the saved tensors.
    @discardableResult
    public static func save(_ model: any LanguageModel, method: AdapterMethod, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory)
        var tensors = [(String, Tensor)]()
        var config: [String: Any]
        var metadata = ["format": "pt", "fura_method": method.method.rawValue]
        if method.isLoRAFamily {
            var leaves = Set<String>()
            var options: LoRAOptions?
            for slot in model.linearSlotNames {
                guard let layer = model.linear(named: slot) else { continue }
                let layerOptions: LoRAOptions
                if let l = layer as? LoRALinear, !method.usesDoRA { layerOptions = l.options } else if let d = layer as? DoRALinear, method.usesDoRA {
                    layerOptions = d.options.lora
                } else { continue }
                if let o = options, o != layerOptions {
                    throw AdapterError.nothingToSave(method: method.method.rawValue,
                                                     reason: "\(slot) has rank/alpha \(layerOptions.rank)/\(layerOptions.alpha), others \(o.rank)/\(o.alpha); PEFT needs one setting")
                }
                options = layerOptions
                leaves.insert(slot.leafName)
                for (name, p) in layer.parameters where name != "bias" { tensors.append((peftPrefix + slot + "." + name, p.value)) }
            }
            guard let lora = options else {
                throw AdapterError.nothingToSave(method: method.method.rawValue, reason: "the model has no \(method.usesDoRA ? "DoRA" : "LoRA") layers")
            }
            config = [
                "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": lora.rank, "lora_alpha": Double(lora.alpha),
                "lora_dropout": Double(lora.dropout), "use_dora": method.usesDoRA, "use_rslora": lora.useRSLoRA, "bias": "none",
                "target_modules": leaves.sorted(), "base_model_name_or_path": method.baseModel, "fan_in_fan_out": false,
                "inference_mode": true, "init_lora_weights": true, "modules_to_save": NSNull(), "revision": NSNull(),
            ]
        } else if method.usesConversion {
            guard let conversion = method.conversion else {
                throw AdapterError.nothingToSave(method: method.method.rawValue, reason: "the conversion options are required")
            }
            var fingerprints = [String: [Double]]()
            for slot in model.linearSlotNames {
                guard let layer = model.linear(named: slot), Self.isConverted(layer) else { continue }
                fingerprints[slot] = CoreFingerprint.of(layer: layer)
                for (name, p) in layer.parameters where p.trainable { tensors.append((slot + "." + name, p.value)) }
            }
            guard !fingerprints.isEmpty else {
                throw AdapterError.nothingToSave(method: method.method.rawValue, reason: "the model has no converted (BTT/SVD) projections")
            }
            let conversionJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(conversion))
            config = [
                "format": furaFormat, "format_version": formatVersion, "method": method.method.rawValue,
                "base_model_name_or_path": method.baseModel, "conversion": conversionJSON, "fingerprints": fingerprints,
                "fingerprint": "per converted module: Frobenius norm and 4 fixed ±1 sketches of its frozen tensors (CoreFingerprint)"
                    + (method.method == .qfura ? "; qfura: of the Float frozen core before NF4 quantization (the codes follow from it and `quantization`)" : ""),
            ]
            if method.method == .qfura {
                config["quantization"] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(method.quantization ?? QFuRAOptions()))
            }
        } else {
            throw AdapterError.nothingToSave(method: method.method.rawValue,
                                             reason: "only lora, dora, qlora, qdora, fura, qfura and svd make adapters; full fine-tuning changes every weight (save the model instead)")
        }
        metadata["format_version"] = "\(formatVersion)"
        try SafetensorsWriter.writeFile(tensors, dtype: .f32, metadata: metadata, to: dir.appendingPathComponent(tensorsName).path)
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicWrite.write(json, to: dir.appendingPathComponent(configName).path)
        return tensors.map(\.0)
    }

    // MARK: Loading

    /// Reads the method of the adapter in `directory` without touching a model.
    public static func readMethod(_ directory: String) throws -> AdapterMethod {
        let (method, _) = try readConfig(directory)
        return method
    }

    /// Applies the adapter in `directory` to `model` (whose projections must still be dense): re-applies the
    /// method, checks the frozen-core fingerprints (fura/svd), and copies the stored tensors in, checking names
    /// and shapes. Returns the method.
    @discardableResult
    public static func load(_ directory: String, into model: any LanguageModel) throws -> AdapterMethod {
        let (method, fingerprints) = try readConfig(directory)
        let path = URL(fileURLWithPath: directory).appendingPathComponent(tensorsName).path
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw AdapterError.unreadable(path: path, reason: "\(error)") }
        var expected = [(key: String, parameter: Parameter)]()
        for (_, p) in model.namedParameters { p.trainable = false }
        if method.isLoRAFamily {
            var wrapped = 0
            for slot in model.linearSlotNames where method.targetModules.contains(slot.leafName) {
                guard let layer = model.linear(named: slot) else { continue }
                let adapter: any LinearLayer = method.usesDoRA
                    ? try DoRALinear(wrapping: layer, format: method.baseFormat, options: DoRAOptions(lora: method.lora), seed: 0)
                    : try LoRALinear(wrapping: layer, format: method.baseFormat, options: method.lora, seed: 0)
                for (name, p) in adapter.parameters {
                    p.name = slot + "." + name
                    if name != "bias" { expected.append((peftPrefix + slot + "." + name, p)) }
                }
                try model.setLinear(adapter, named: slot)
                wrapped += 1
            }
            guard wrapped > 0 else {
                throw AdapterError.badConfig(path: directory + "/" + configName, key: "target_modules", value: method.targetModules.joined(separator: ","),
                                             expected: "leaf names of this model's projections (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)")
            }
        } else {
            guard let conversion = method.conversion else {
                throw AdapterError.badConfig(path: directory + "/" + configName, key: "conversion", value: "null", expected: "the conversion options")
            }
            _ = try Conversion.convert(model, options: conversion, measureReconstruction: false)
            if method.method == .qfura { try Conversion.quantizeFrozenCores(model, options: method.quantization ?? QFuRAOptions()) }
            for slot in model.linearSlotNames {
                guard let layer = model.linear(named: slot), Self.isConverted(layer) else { continue }
                let actual = CoreFingerprint.of(layer: layer)
                guard let stored = fingerprints[slot] else {
                    throw AdapterError.badConfig(path: directory + "/" + configName, key: "fingerprints.\(slot)", value: "missing",
                                                 expected: "a fingerprint for every converted module")
                }
                guard CoreFingerprint.matches(stored, actual) else {
                    throw AdapterError.fingerprintMismatch(path: directory, module: slot, expected: stored, actual: actual)
                }
                for (name, p) in layer.parameters where p.trainable { expected.append((slot + "." + name, p)) }
            }
        }
        try copy(expected, from: file, path: path)
        for slot in model.linearSlotNames {
            if let d = model.linear(named: slot) as? DoRALinear { try d.restoreNormCache(d.adaptedRowNorms()) }
        }
        return method
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
            p.value = t
        }
        if let extra = unused.sorted().first { throw AdapterError.unexpectedTensor(path: path, name: extra) }
    }
}
