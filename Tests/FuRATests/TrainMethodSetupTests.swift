import Foundation
import FuRA
import FuRAModels
import FuRATrain
import Testing

/// The whole SFT path on a tiny random Llama-shaped model: method setup, training, checkpoints, resume.
@Suite struct TrainMethodSetupTests {
    static let modelConfig = ModelConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 4,
                                         numKeyValueHeads: 2, vocabSize: 128)

    static func config(_ method: TrainMethod, data: URL, output: URL, iters: Int, resume: Bool = false) throws -> TrainConfig {
        try TrainConfig.resolve(file: nil, overrides: [
            "model": "random", "data": data.path, "output": output.path, "method": method.rawValue, "iters": iters,
            "batch_size": 2, "grad_accum": 2, "lr": 1e-2, "val_size": 2, "save_every": 2, "max_seq_len": 256,
            "resume": resume, "lora_rank": 4, "lora_alpha": 8,
        ])
    }

    /// Trains `method` for `iters` steps (resuming when asked, stopping after `stopAfter`) and returns model and losses.
    static func train(_ method: TrainMethod, data: URL, output: URL, iters: Int, resume: Bool = false,
                      stopAfter: Int? = nil) throws -> (CausalLM, [Double]) {
        let model = try CausalLM.random(config: modelConfig, seed: 11)
        let config = try Self.config(method, data: data, output: output, iters: iters, resume: resume)
        let setup = try TrainMethodSetup.apply(config, to: model)
        var losses = [Double]()
        let run = try SFTRun(config: config, model: model, tokenizer: CharacterTokenizer.sft) {
            if case let .step(m) = $0 { losses.append(m.loss) }
        }
        run.trainer.preMicroBatch = setup.preMicroBatch
        run.trainer.postUpdate = { step in
            try setup.postUpdate?(step)
            if step == stopAfter { throw CancellationError() }
        }
        if stopAfter != nil { #expect(throws: CancellationError.self) { try run.run() } } else { try run.run() }
        return (model, losses)
    }

    static func bits(_ model: CausalLM) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: model.namedParameters.filter { $0.parameter.trainable }.map {
            ($0.name, $0.parameter.value.storage.map(\.bitPattern))
        })
    }

    @Test(arguments: [TrainMethod.fura, .lora, .qfura])
    func trainsAndResumesBitIdentically(method: TrainMethod) throws {
        let directory = try TrainFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("train.json")
        try TrainSFTRunTests.writeData(data, n: 14)
        let (straight, losses) = try Self.train(method, data: data, output: directory.appendingPathComponent("a"), iters: 8)
        #expect(losses.count == 8)
        #expect(losses.suffix(2).reduce(0, +) < losses.prefix(2).reduce(0, +), "\(method): \(losses)")
        let trainable = straight.namedParameters.filter { $0.parameter.trainable }.map(\.name)
        if method == .fura || method == .qfura { #expect(trainable.contains { $0.hasSuffix("q_proj.btt_l") || $0.hasSuffix("q_proj.btt_r") }) }
        if method == .lora { #expect(trainable.contains { $0.hasSuffix("q_proj.lora_A.weight") } && !trainable.contains { $0.contains("o_proj") }) }
        _ = try Self.train(method, data: data, output: directory.appendingPathComponent("b"), iters: 8, stopAfter: 5)
        let (resumed, _) = try Self.train(method, data: data, output: directory.appendingPathComponent("b"), iters: 8, resume: true)
        let a = Self.bits(straight), b = Self.bits(resumed)
        #expect(Set(a.keys) == Set(b.keys))
        let differing = a.reduce(0) { $0 + zip($1.value, b[$1.key] ?? []).filter { $0 != $1 }.count }
        #expect(differing == 0, "\(method): \(differing) elements differ after resume")
    }

    @Test func fullUnfreezesEverything() throws {
        let model = try CausalLM.random(config: Self.modelConfig, seed: 1)
        let url = URL(fileURLWithPath: "/nonexistent")
        _ = try TrainMethodSetup.apply(try Self.config(.full, data: url, output: url, iters: 1), to: model)
        #expect(model.namedParameters.allSatisfy { $0.parameter.trainable })
    }

    @Test func qfuraQuantizesEveryFrozenCoreAndTrainsTheSmallOne() throws {
        let model = try CausalLM.random(config: Self.modelConfig, seed: 1)
        let url = URL(fileURLWithPath: "/nonexistent")
        let setup = try TrainMethodSetup.apply(try Self.config(.qfura, data: url, output: url, iters: 1), to: model,
                                               quantization: QFuRAOptions(layout: .perCoreBlock))
        #expect(setup.summary.hasPrefix("qfura: converted 14 projections, 14 frozen cores in NF4 (per_core_block, double quant"))
        let layers = model.linearSlotNames.compactMap { model.linear(named: $0) as? QBTTLayer }
        #expect(layers.count == 14)
        #expect(layers.allSatisfy { $0.frozenSide == .left && $0.core.layout == .perCoreBlock && $0.core.doubleQuantization })
        let trainable = Set(model.namedParameters.filter { $0.parameter.trainable }.map { $0.name.split(separator: ".").last.map(String.init) ?? "" })
        #expect(trainable == ["btt_r", "btt_s"])
        #expect(!model.namedParameters.contains { $0.name.hasSuffix("btt_l") })
        // train_position both leaves no frozen core: a typed error naming the module.
        var both = ConversionOptions()
        both.trainPosition = "both"
        both.sMergedTo = .split
        #expect(throws: ConversionError.self) {
            try TrainMethodSetup.apply(try Self.config(.qfura, data: url, output: url, iters: 1),
                                       to: try CausalLM.random(config: Self.modelConfig, seed: 1), conversion: both)
        }
    }
}
