import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
import FuRATrain
import Testing

/// The method registry: every method is reachable by name, validates its options without a model, honours
/// `target_modules`, and PiSSA/rsLoRA behave as PEFT defines them.
@Suite struct MethodRegistryTests {
    static let config = AdapterFilesTests.modelConfig

    @Test func everyRegisteredMethodBuildsFromItsRecipe() throws {
        #expect(MethodRegistry.names.map(\.rawValue) == ["fura", "svd", "lora", "dora", "pissa", "full", "qfura", "qlora", "qdora"])
        for name in MethodRegistry.names {
            for recipe in [MethodRegistry.Recipe.sft, .rl] {
                let method = try MethodRegistry.make(name, settings: MethodSettings(), recipe: recipe)
                #expect(method.name == name)
                let plan = try ParameterPlan.make(config: Self.config, method: method)
                #expect(plan.trainableParameters > 0 && plan.trainableParameters <= plan.totalParameters, "\(name)")
            }
        }
        #expect(MethodName(rawValue: "bogus") == nil)
        #expect(throws: MethodError.self) { try MethodName(parsing: "bogus") }
    }

    @Test func badOptionsFailWithoutAModel() throws {
        #expect(throws: ConversionError.self) { try MethodRegistry.make(.fura, settings: MethodSettings(decompMode: "bogus")) }
        #expect(throws: ConversionError.self) { try MethodRegistry.make(.fura, settings: MethodSettings(sMergedTo: "left")) }
        #expect(throws: ConversionError.self) { try MethodRegistry.make(.lora, settings: MethodSettings(targetModules: "q_proj,bogus")) }
        #expect(throws: MethodError.self) { try MethodRegistry.make(.lora, settings: MethodSettings(loraRank: 1 << 62)) }
        #expect(throws: MethodError.self) { try MethodRegistry.make(.lora, settings: MethodSettings(loraAlpha: -1)) }
        #expect(throws: MethodError.self) { try MethodRegistry.make(.full, settings: MethodSettings(targetModules: "q_proj")) }
        // Through a run config: resolving fails before any model is loaded.
        #expect(throws: TrainingError.self) {
            try TrainConfig.resolve(file: nil, overrides: ["model": "m", "data": "d", "output": "o", "decomp_mode": "bogus"])
        }
    }

    @Test(arguments: [MethodName.lora, .dora, .pissa, .qlora])
    func loraFamilyAdaptsExactlyTheTargetModules(method: MethodName) throws {
        let model = try CausalLM.random(config: Self.config, seed: 3)
        let run = try TrainConfig.resolve(file: nil, overrides: [
            "model": "random", "data": "x", "output": "y", "method": method.rawValue, "lora_rank": 2, "target_modules": "q_proj,o_proj",
        ])
        _ = try TrainMethodSetup.apply(run, to: model)
        let adapted = model.linearSlotNames.filter { !(model.linear(named: $0) is DenseLinear) }
        #expect(Set(adapted.map(\.leafName)) == ["q_proj", "o_proj"] && adapted.count == 2 * Self.config.numHiddenLayers)
        let dir = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let names = try AdapterFiles.save(model, method: AdapterMethod(config: run), to: dir)
        #expect(Set(names.compactMap { $0.split(separator: ".").first { $0.hasSuffix("_proj") }.map(String.init) }) == ["q_proj", "o_proj"], "\(names)")
    }

    /// PiSSA starts exactly at the base model, A and B are the principal factors of W, and the residual is frozen.
    @Test func pissaStartsAtTheBaseFromThePrincipalFactors() throws {
        let base = try CausalLM.random(config: Self.config, seed: 5)
        let model = try CausalLM.random(config: Self.config, seed: 5)
        let run = try TrainConfig.resolve(file: nil, overrides: ["model": "r", "data": "x", "output": "y", "method": "pissa", "lora_rank": 3, "lora_alpha": 6])
        _ = try TrainMethodSetup.apply(run, to: model)
        let a = try AdapterFilesTests.logits(base), b = try AdapterFilesTests.logits(model)
        #expect((zip(a, b).map { abs($0 - $1) }.max() ?? 1) < 1e-4)
        let slot = "model.layers.0.self_attn.q_proj"
        let layer = try #require(model.linear(named: slot) as? LoRALinear)
        let w = try #require(base.linear(named: slot)).denseWeight()
        let svd = try LAPACK.svd(w)
        // B·A·s equals the rank-3 truncation U_r S_r V_rᵀ.
        let update = try Tensor.matmul(layer.loraB.value, layer.loraA.value)
        let (o, i) = try w.dims2("w")
        var worst: Float = 0
        for row in 0..<o { for column in 0..<i {
            var truncated: Float = 0
            for k in 0..<3 { truncated += svd.u.storage[row * svd.s.count + k] * svd.s.storage[k] * svd.vt.storage[k * i + column] }
            worst = max(worst, abs(layer.options.scaling * update.storage[row * i + column] - truncated))
        } }
        #expect(worst < 1e-4)
        #expect(layer.loraA.trainable && layer.loraB.trainable)
        #expect(model.namedParameters.filter { $0.parameter.trainable }.allSatisfy { $0.name.contains("lora_") })
    }

    /// A trained PiSSA adapter is saved as PEFT's converted LoRA (rank 2r, α doubled) and gives the same logits on the
    /// original base; with rsLoRA α grows by √2.
    @Test(arguments: [false, true])
    func pissaAdapterRoundTripsAsRank2rLoRA(rslora: Bool) throws {
        let model = try CausalLM.random(config: Self.config, seed: 7)
        let run = try TrainConfig.resolve(file: nil, overrides: [
            "model": "r", "data": "x", "output": "y", "method": "pissa", "lora_rank": 2, "lora_alpha": 4, "use_rslora": rslora,
        ])
        _ = try TrainMethodSetup.apply(run, to: model)
        for (index, (_, p)) in model.namedParameters.enumerated() where p.trainable {
            let noise = TestSupport.random(p.value.shape, seed: UInt64(40 + index), std: 0.05)
            for k in 0..<p.value.count { p.value.storage[k] += noise.storage[k] }
        }
        let dir = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AdapterFiles.save(model, method: AdapterMethod(config: run), to: dir)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as? [String: Any]
        #expect(config?["r"] as? Int == 4 && config?["init_lora_weights"] as? Bool == true && config?["use_rslora"] as? Bool == rslora)
        let alpha = try #require(config?["lora_alpha"] as? Double)
        #expect(abs(alpha - (rslora ? 4 * 2.0.squareRoot() : 8)) < 1e-5)
        let fresh = try CausalLM.random(config: Self.config, seed: 7)
        let loaded = try AdapterFiles.load(dir, into: fresh)
        #expect(loaded.method == .lora && loaded.lora.rank == 4)
        let a = try AdapterFilesTests.logits(model), b = try AdapterFilesTests.logits(fresh)
        let base = try AdapterFilesTests.logits(try CausalLM.random(config: Self.config, seed: 7))
        #expect((zip(a, b).map { abs($0 - $1) }.max() ?? 1) < 1e-4)
        #expect((zip(a, base).map { abs($0 - $1) }.max() ?? 0) > 1e-3, "the trained adapter must change the logits")
    }

    @Test func rsLoRAScalesByTheSquareRootOfTheRank() throws {
        let plain = try MethodRegistry.make(.lora, settings: MethodSettings(loraRank: 16, loraAlpha: 8)) as? LoRAMethod
        let rs = try MethodRegistry.make(.lora, settings: MethodSettings(loraRank: 16, loraAlpha: 8, useRslora: true)) as? LoRAMethod
        #expect(plain?.lora.scaling == 0.5 && rs?.lora.scaling == 2)
    }

    /// `--adapter RUN` takes `RUN/adapter`.
    @Test func runDirectoryResolvesToItsAdapter() throws {
        let run = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: run) }
        let (model, method) = try AdapterFilesTests.adapted(.lora)
        try AdapterFiles.save(model, method: method, to: run + "/adapter")
        #expect(AdapterFiles.resolveDirectory(run) == run + "/adapter")
        let fresh = try CausalLM.random(config: Self.config, seed: 11)
        #expect(try AdapterFiles.load(run, into: fresh).method == .lora)
    }
}
