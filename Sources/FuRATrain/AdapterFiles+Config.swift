import Foundation
import FuRA
import FuRAFormats

extension AdapterFiles {
    /// Parses `adapter_config.json` (PEFT LoRA or our FuRA schema) and, for fura/svd, the stored fingerprints.
    static func readConfig(_ directory: String) throws -> (AdapterMethod, [String: [Double]]) {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(configName).path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw AdapterError.unreadable(path: path, reason: "no adapter_config.json (is \(directory) an adapter directory?)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AdapterError.unreadable(path: path, reason: "not a JSON object")
        }
        let base = object["base_model_name_or_path"] as? String ?? ""
        if let peft = object["peft_type"] {
            guard (peft as? String) == "LORA" else {
                throw AdapterError.badConfig(path: path, key: "peft_type", value: "\(peft)", expected: "LORA")
            }
            guard let rank = (object["r"] as? NSNumber)?.intValue, rank > 0 else {
                throw AdapterError.badConfig(path: path, key: "r", value: "\(object["r"] ?? "missing")", expected: "a positive integer")
            }
            let alpha = (object["lora_alpha"] as? NSNumber)?.floatValue ?? 8
            let dropout = (object["lora_dropout"] as? NSNumber)?.floatValue ?? 0
            let rslora = (object["use_rslora"] as? Bool) ?? false
            let dora = (object["use_dora"] as? Bool) ?? false
            if let bias = object["bias"] as? String, bias != "none" {
                throw AdapterError.badConfig(path: path, key: "bias", value: bias, expected: "none (trained biases are not supported)")
            }
            var targets: [String]
            if let list = object["target_modules"] as? [String] {
                targets = list
            } else if let text = object["target_modules"] as? String, text == "all-linear" {
                targets = TrainMethodSetup.allProjections
            } else {
                throw AdapterError.badConfig(path: path, key: "target_modules", value: "\(object["target_modules"] ?? "missing")",
                                             expected: "a list of projection names or \"all-linear\"")
            }
            targets = targets.map { $0.split(separator: ".").last.map(String.init) ?? $0 }
            // The quantized base is ours to know; PEFT keeps it in the base model's loading, so it rides in the metadata.
            var method: TrainMethod = dora ? .dora : .lora
            let tensorsPath = URL(fileURLWithPath: directory).appendingPathComponent(tensorsName).path
            if let stored = (try? SafetensorsFile(path: tensorsPath))?.metadata["fura_method"], let m = TrainMethod(rawValue: stored),
               m == (dora ? .qdora : .qlora) {
                method = m
            }
            return (AdapterMethod(method: method, lora: LoRAOptions(rank: rank, alpha: alpha, dropout: dropout, useRSLoRA: rslora),
                                  targetModules: targets, baseModel: base), [:])
        }
        guard (object["format"] as? String) == furaFormat else {
            throw AdapterError.badConfig(path: path, key: "format", value: "\(object["format"] ?? "missing")",
                                         expected: "\"\(furaFormat)\" (or a PEFT LoRA config with peft_type)")
        }
        guard let version = (object["format_version"] as? NSNumber)?.intValue, version == formatVersion else {
            throw AdapterError.badConfig(path: path, key: "format_version", value: "\(object["format_version"] ?? "missing")",
                                         expected: "\(formatVersion) (written by a different version of fura)")
        }
        guard let name = object["method"] as? String, let method = TrainMethod(rawValue: name), [.fura, .qfura, .svd].contains(method) else {
            throw AdapterError.badConfig(path: path, key: "method", value: "\(object["method"] ?? "missing")", expected: "fura, qfura or svd")
        }
        var quantization: QFuRAOptions?
        if method == .qfura {
            let raw = object["quantization"] as? [String: Any] ?? [:]
            do {
                quantization = try JSONDecoder().decode(QFuRAOptions.self, from: JSONSerialization.data(withJSONObject: raw))
            } catch {
                throw AdapterError.badConfig(path: path, key: "quantization", value: "\(raw)",
                                             expected: "{\"quant_block_layout\": \"flat\" | \"per_core_block\", \"double_quant\": true | false} (\(error))")
            }
        }
        guard let conversionObject = object["conversion"] as? [String: Any] else {
            throw AdapterError.badConfig(path: path, key: "conversion", value: "missing", expected: "an object of conversion options")
        }
        let conversion: ConversionOptions
        do {
            conversion = try JSONDecoder().decode(ConversionOptions.self, from: JSONSerialization.data(withJSONObject: conversionObject))
        } catch {
            throw AdapterError.badConfig(path: path, key: "conversion", value: "\(conversionObject)", expected: "valid conversion options (\(error))")
        }
        var fingerprints = [String: [Double]]()
        for (slot, value) in object["fingerprints"] as? [String: Any] ?? [:] {
            guard let list = value as? [NSNumber], list.count == CoreFingerprint.count else {
                throw AdapterError.badConfig(path: path, key: "fingerprints.\(slot)", value: "\(value)", expected: "\(CoreFingerprint.count) numbers")
            }
            fingerprints[slot] = list.map(\.doubleValue)
        }
        return (AdapterMethod(method: method, conversion: conversion, baseModel: base, quantization: quantization), fingerprints)
    }
}
