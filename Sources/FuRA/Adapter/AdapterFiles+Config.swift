import Foundation
import FuRAFormats

extension AdapterFiles {
    /// Parses `adapter_config.json` (PEFT LoRA or our converted schema) and, for converted methods, the fingerprints.
    static func readConfig(_ directory: String) throws -> (AdapterMethod, [String: [Double]]) {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(configName).path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw AdapterError.unreadable(path: path, reason: "no adapter_config.json (is \(directory) an adapter or run directory?)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw AdapterError.unreadable(path: path, reason: "not a JSON object")
        }
        if object["peft_type"] != nil { return (try readPEFT(data, path: path, directory: directory), [:]) }
        guard (object["format"] as? String) == furaFormat else {
            throw AdapterError.badConfig(path: path, key: "format", value: "\(object["format"] ?? "missing")",
                                         expected: "\"\(furaFormat)\" (or a PEFT LoRA config with peft_type)")
        }
        guard let version = (object["format_version"] as? NSNumber)?.intValue, version == formatVersion else {
            throw AdapterError.badConfig(path: path, key: "format_version", value: "\(object["format_version"] ?? "missing")",
                                         expected: "\(formatVersion) (written by a different version of fura)")
        }
        let config: ConvertedAdapterConfig = try decode(data, path: path)
        guard let method = MethodName(rawValue: config.method), case .converted = AdapterMethod.format(of: method) else {
            let converted = MethodRegistry.names.filter { AdapterMethod(method: $0).usesConversion }
            throw AdapterError.badConfig(path: path, key: "method", value: config.method,
                                         expected: converted.map(\.rawValue).joined(separator: ", "))
        }
        for (slot, values) in config.fingerprints where values.count != CoreFingerprint.count {
            throw AdapterError.badConfig(path: path, key: "fingerprints.\(slot)", value: "\(values)", expected: "\(CoreFingerprint.count) numbers")
        }
        let quantized = AdapterMethod.format(of: method) == .converted(quantized: true)
        return (AdapterMethod(method: method, conversion: config.conversion, baseModel: config.baseModelNameOrPath,
                              quantization: quantized ? config.quantization ?? QFuRAOptions() : nil), config.fingerprints)
    }

    /// A PEFT LoRA config: LoRA or DoRA, or their NF4 forms when our safetensors metadata says so.
    static func readPEFT(_ data: Data, path: String, directory: String) throws -> AdapterMethod {
        let config: PEFTLoRAConfig = try decode(data, path: path)
        guard config.peftType == "LORA" else {
            throw AdapterError.badConfig(path: path, key: "peft_type", value: config.peftType, expected: "LORA")
        }
        guard config.r > 0, config.r <= MethodSettings.maximumLoRARank else {
            throw AdapterError.badConfig(path: path, key: "r", value: "\(config.r)", expected: "an integer in 1…\(MethodSettings.maximumLoRARank)")
        }
        guard config.loraAlpha.isFinite, config.loraAlpha > 0 else {
            throw AdapterError.badConfig(path: path, key: "lora_alpha", value: "\(config.loraAlpha)", expected: "a finite number > 0")
        }
        guard config.bias == "none" else {
            throw AdapterError.badConfig(path: path, key: "bias", value: config.bias, expected: "none (trained biases are not supported)")
        }
        if config.initLoraWeights == .name("pissa") || config.initLoraWeights == .name("olora") {
            throw AdapterError.badConfig(path: path, key: "init_lora_weights", value: "\(config.initLoraWeights)",
                                         expected: "true: save PiSSA adapters converted to LoRA (PEFT's path_initial_model_for_weight_conversion); fura writes them so")
        }
        if let (key, pattern) = [("rank_pattern", config.rankPattern), ("alpha_pattern", config.alphaPattern)].first(where: { !$0.1.isEmpty }) {
            throw AdapterError.badConfig(path: path, key: key, value: "\(pattern)", expected: "{} (one rank and alpha for every module)")
        }
        var targets = config.targetModules
        if targets == ["all-linear"] { targets = ProjectionGroups.allLinear }
        targets = targets.map { $0.split(separator: ".").last.map(String.init) ?? $0 }
        // The quantized base is ours to know; PEFT keeps it in the base model's loading, so it rides in the metadata.
        var method: MethodName = config.useDora ? .dora : .lora
        let tensorsPath = URL(fileURLWithPath: directory).appendingPathComponent(tensorsName).path
        if let stored = (try? SafetensorsFile(path: tensorsPath))?.metadata["fura_method"], let m = MethodName(rawValue: stored),
           m == (config.useDora ? .qdora : .qlora) {
            method = m
        }
        let lora = LoRAOptions(rank: config.r, alpha: Float(config.loraAlpha), dropout: Float(config.loraDropout), useRSLoRA: config.useRslora)
        return AdapterMethod(method: method, lora: lora, targetModules: targets, baseModel: config.baseModelNameOrPath)
    }

    /// Decodes `T`, naming the key of the first problem.
    static func decode<T: Decodable>(_ data: Data, path: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch let DecodingError.keyNotFound(key, context) {
            throw AdapterError.badConfig(path: path, key: (context.codingPath + [key]).map(\.stringValue).joined(separator: "."),
                                         value: "missing", expected: "a value")
        } catch let DecodingError.typeMismatch(type, context) {
            throw AdapterError.badConfig(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."),
                                         value: "a value of another type", expected: "\(type)")
        } catch let DecodingError.valueNotFound(type, context) {
            throw AdapterError.badConfig(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."), value: "null", expected: "\(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw AdapterError.badConfig(path: path, key: context.codingPath.map(\.stringValue).joined(separator: "."),
                                         value: "unusable", expected: context.debugDescription)
        } catch {
            throw AdapterError.badConfig(path: path, key: "-", value: "unusable", expected: ErrorText.decoding(error))
        }
    }
}
