import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
import FuRATrain
import Testing

/// Adapter directories: save → load round trips, PEFT names and shapes, fingerprint and shape refusals.
@Suite struct AdapterFilesTests {
    static let modelConfig = ModelConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 4,
                                         numKeyValueHeads: 2, vocabSize: 64)
    static let ids = [[1, 5, 9, 2, 33, 7], [4, 4, 60, 12, 0, 3]]

    static func logits(_ model: CausalLM) throws -> [Float] {
        try model.logits(for: ids, allPositions: true).storage
    }

    static func method(_ m: TrainMethod, conversion: ConversionOptions? = nil) throws -> (TrainConfig, AdapterMethod) {
        let config = try TrainConfig.resolve(file: nil, overrides: [
            "model": "random", "data": "x", "output": "y", "method": m.rawValue, "lora_rank": 4, "lora_alpha": 8,
        ])
        return (config, AdapterMethod(config: config, conversion: conversion))
    }

    /// A model adapted by `m` with every trainable tensor moved off its initial value (so a lost tensor shows).
    static func adapted(_ m: TrainMethod, conversion: ConversionOptions? = nil) throws -> (CausalLM, AdapterMethod) {
        let model = try CausalLM.random(config: modelConfig, seed: 11)
        let (config, method) = try Self.method(m, conversion: conversion)
        _ = try TrainMethodSetup.apply(config, to: model, conversion: conversion)
        for (i, (_, p)) in model.namedParameters.enumerated() where p.trainable {
            let noise = TestSupport.random(p.value.shape, seed: UInt64(100 + i), std: 0.05)
            for k in 0..<p.value.count { p.value.storage[k] += noise.storage[k] }
        }
        for slot in model.linearSlotNames {
            if let d = model.linear(named: slot) as? DoRALinear { try d.restoreNormCache(d.adaptedRowNorms()) }
        }
        return (model, method)
    }

    static func temporary() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fura-adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    @Test(arguments: [TrainMethod.lora, .dora, .fura, .svd, .qlora, .qfura])
    func roundTripGivesIdenticalOutputs(method m: TrainMethod) throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (model, method) = try Self.adapted(m)
        let saved = try AdapterFiles.save(model, method: method, to: dir)
        #expect(!saved.isEmpty)
        let fresh = try CausalLM.random(config: Self.modelConfig, seed: 11)
        let loaded = try AdapterFiles.load(dir, into: fresh)
        #expect(loaded.method == m)
        let a = try Self.logits(model), b = try Self.logits(fresh)
        let base = try Self.logits(try CausalLM.random(config: Self.modelConfig, seed: 11))
        let maxDiff = zip(a, b).map { abs($0 - $1) }.max() ?? 1
        let moved = zip(a, base).map { abs($0 - $1) }.max() ?? 0
        #expect(maxDiff <= 1e-5, "\(m): adapted vs reloaded logits differ by \(maxDiff)")
        #expect(moved > 1e-3, "\(m): the adapter should change the logits (moved \(moved))")
        let names = Set(try SafetensorsFile(path: dir + "/adapter_model.safetensors").tensorNames)
        let trainable = fresh.namedParameters.filter { $0.parameter.trainable }.count
        #expect(names.count == trainable, "\(m): only the trained tensors are stored")
    }

    @Test func loraFilesUsePEFTNamesAndShapes() throws {
        for m in [TrainMethod.lora, .dora] {
            let dir = try Self.temporary()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let (model, method) = try Self.adapted(m)
            try AdapterFiles.save(model, method: method, to: dir)
            let file = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
            let prefix = "base_model.model.model.layers.0.self_attn.q_proj."
            #expect(file.infos[prefix + "lora_A.weight"]?.shape == [4, 16])
            #expect(file.infos[prefix + "lora_B.weight"]?.shape == [16, 4])
            #expect(file.infos["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"]?.shape == [4, 32])
            #expect((file.infos[prefix + "lora_magnitude_vector"]?.shape == [16]) == (m == .dora))
            #expect(!file.tensorNames.contains { $0.contains("o_proj") })
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any]
            #expect(config?["peft_type"] as? String == "LORA")
            #expect(config?["task_type"] as? String == "CAUSAL_LM")
            #expect((config?["r"] as? NSNumber)?.intValue == 4)
            #expect((config?["lora_alpha"] as? NSNumber)?.doubleValue == 8)
            #expect(config?["use_dora"] as? Bool == (m == .dora))
            #expect(config?["bias"] as? String == "none")
            #expect(Set(config?["target_modules"] as? [String] ?? []) == Set(TrainMethodSetup.loraTargets))
        }
    }

    @Test func tamperedBaseIsRefusedByTheFingerprint() throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (model, method) = try Self.adapted(.fura)
        try AdapterFiles.save(model, method: method, to: dir)
        let tampered = try CausalLM.random(config: Self.modelConfig, seed: 11)
        let slot = "model.layers.1.mlp.up_proj"
        var w = try #require(tampered.linear(named: slot)).denseWeight()
        for k in stride(from: 0, to: w.count, by: 7) { w.storage[k] *= 1.05 }
        try tampered.setLinear(try DenseLinear(weight: w), named: slot)
        #expect {
            try AdapterFiles.load(dir, into: tampered)
        } throws: { error in
            guard case let AdapterError.fingerprintMismatch(_, module, _, _) = error else { return false }
            return module == slot
        }
    }

    @Test func qfuraAdapterRecordsItsQuantizationAndRefusesAnotherBase() throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try CausalLM.random(config: Self.modelConfig, seed: 11)
        let (config, _) = try Self.method(.qfura)
        let quantization = QFuRAOptions(layout: .perCoreBlock, doubleQuantization: false)
        _ = try TrainMethodSetup.apply(config, to: model, quantization: quantization)
        let method = AdapterMethod(method: .qfura, conversion: ConversionOptions(), quantization: quantization)
        try AdapterFiles.save(model, method: method, to: dir)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any]
        let q = json?["quantization"] as? [String: Any]
        #expect(q?["quant_block_layout"] as? String == "per_core_block" && q?["double_quant"] as? Bool == false)
        let fresh = try CausalLM.random(config: Self.modelConfig, seed: 11)
        let loaded = try AdapterFiles.load(dir, into: fresh)
        #expect(loaded.method == .qfura && loaded.quantization == quantization)
        let layer = try #require(fresh.linear(named: "model.layers.0.self_attn.q_proj") as? QBTTLayer)
        #expect(layer.core.layout == .perCoreBlock && !layer.core.doubleQuantization)
        let other = try CausalLM.random(config: Self.modelConfig, seed: 12)
        #expect(throws: AdapterError.self) { try AdapterFiles.load(dir, into: other) }
    }

    @Test func wrongBaseShapeNamesTheTensor() throws {
        let dir = try Self.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (model, method) = try Self.adapted(.lora)
        try AdapterFiles.save(model, method: method, to: dir)
        var other = Self.modelConfig
        other.intermediateSize = 48
        #expect {
            try AdapterFiles.load(dir, into: try CausalLM.random(config: other, seed: 11))
        } throws: { error in
            guard case let AdapterError.shapeMismatch(_, name, _, _) = error else { return false }
            return name.hasSuffix("mlp.up_proj.lora_B.weight") || name.contains("mlp.")
        }
        #expect(throws: AdapterError.self) { try AdapterFiles.load(dir + "/missing", into: model) }
    }
}
