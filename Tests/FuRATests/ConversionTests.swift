import Foundation
import FuRANN
import FuRATestSupport
import Testing
@testable import FuRA
@testable import FuRATensor

/// A stack of dense projections with Llama-style slot names and a head shape, plus embeddings, norms and an LM head.
final class TestLlamaHost: LinearHost {
    var slots: [String: any LinearLayer] = [:]
    var linearSlotNames: [String] = []
    let headShape: HeadShape?
    let otherParameters: [(name: String, parameter: Parameter)]

    init(layers: Int = 2, hidden: Int = 48, intermediate: Int = 80, heads: Int = 4, kvHeads: Int = 2, vocab: Int = 10,
         qkvBias: Bool = true, seed: UInt64 = 1) throws {
        let headDim = hidden / heads
        headShape = HeadShape(numHeads: heads, numKeyValueHeads: kvHeads, headDim: headDim)
        var s = seed
        func dense(_ o: Int, _ i: Int, bias: Bool) throws -> DenseLinear {
            s += 2
            return try DenseLinear(weight: TestSupport.random([o, i], seed: s, std: 0.2),
                                   bias: bias ? TestSupport.random([o], seed: s + 1, std: 0.1) : nil)
        }
        var other: [(name: String, parameter: Parameter)] = [("model.embed_tokens.weight", Parameter(name: "model.embed_tokens.weight",
                                                                                                       value: TestSupport.random([vocab, hidden], seed: 999)))]
        for l in 0..<layers {
            let attn = "model.layers.\(l).self_attn.", mlp = "model.layers.\(l).mlp."
            let shapes: [(String, Int, Int, Bool)] = [
                (attn + "q_proj", heads * headDim, hidden, qkvBias), (attn + "k_proj", kvHeads * headDim, hidden, qkvBias),
                (attn + "v_proj", kvHeads * headDim, hidden, qkvBias), (attn + "o_proj", hidden, heads * headDim, false),
                (mlp + "gate_proj", intermediate, hidden, false), (mlp + "up_proj", intermediate, hidden, false),
                (mlp + "down_proj", hidden, intermediate, false),
            ]
            for (name, o, i, b) in shapes {
                slots[name] = try dense(o, i, bias: b)
                linearSlotNames.append(name)
            }
            for norm in ["input_layernorm", "post_attention_layernorm"] {
                let n = "model.layers.\(l).\(norm).weight"
                other.append((n, Parameter(name: n, value: Tensor(shape: [hidden], repeating: 1))))
            }
        }
        other.append(("model.norm.weight", Parameter(name: "model.norm.weight", value: Tensor(shape: [hidden], repeating: 1))))
        other.append(("lm_head.weight", Parameter(name: "lm_head.weight", value: TestSupport.random([vocab, hidden], seed: 998))))
        otherParameters = other
    }

    func linear(named name: String) -> (any LinearLayer)? { slots[name] }

    func setLinear(_ layer: any LinearLayer, named name: String) throws {
        guard let old = slots[name] else { throw ConversionError.unknownSlot(module: name) }
        guard old.inFeatures == layer.inFeatures, old.outFeatures == layer.outFeatures else {
            throw ConversionError.shapeMismatch(module: name, tensor: "layer", expected: [old.outFeatures, old.inFeatures],
                                                actual: [layer.outFeatures, layer.inFeatures])
        }
        slots[name] = layer
    }

    /// Every slot applied to a fixed random input: slot → y (4, O).
    func probe() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, name) in linearSlotNames.enumerated() {
            let layer = slots[name]!
            out[name] = try layer.forward(TestSupport.random([4, layer.inFeatures], seed: 5000 + UInt64(k)), keepForBackward: false)
        }
        return out
    }
}

@Suite struct ConversionTests {
    @Test func optionsDecodeSnakeCaseJSONWithDefaultsAndRoundTrip() throws {
        let defaults = try JSONDecoder().decode(ConversionOptions.self, from: Data("{}".utf8))
        #expect(defaults == ConversionOptions())
        #expect(defaults.decompMode == .uniform(.outputOneBlock) && defaults.rank == .full && defaults.sMergedTo == .keepTrainable)
        #expect(defaults.trainPosition == "small" && defaults.factorizeByHead)
        #expect(try defaults.targetLeaves().count == 7)
        let json = """
        {"method":"fura","decomp_mode":"{qkv:input,o:output,up_gate:input}","rank":0.25,"s_merged_to":null,
         "train_position":"large","convert_mode":"qr","input_factorization":{"qkv":"head","mlp_down":"8,10"},
         "factorize_by_head":false,"normalize_after_update":true,"train_bias":false,"target_modules":"attn,mlp_down"}
        """
        let o = try JSONDecoder().decode(ConversionOptions.self, from: Data(json.utf8))
        #expect(o.decompMode == .perGroup(["qkv": .inputOneBlock, "o": .outputOneBlock, "mlp_upgate": .inputOneBlock]))
        #expect(o.decompMode.mode(for: "k_proj") == .inputOneBlock && o.decompMode.mode(for: "down_proj") == .outputOneBlock)
        #expect(o.rank == .fraction(0.25) && o.sMergedTo == nil && o.convertMode == .qr && !o.trainBias && o.normalizeAfterUpdate)
        #expect(o.inputFactorization?.choice(for: "v_proj") == .head && o.inputFactorization?.choice(for: "down_proj") == .pair(8, 10))
        #expect(try o.targetLeaves() == ["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"])
        let again = try JSONDecoder().decode(ConversionOptions.self, from: try JSONEncoder().encode(o))
        #expect(again == o)
        let text = String(decoding: try JSONEncoder().encode(ConversionOptions()), as: UTF8.self)
        for key in ["decomp_mode", "s_merged_to", "train_position", "convert_mode", "factorize_by_head", "normalize_after_update",
                    "train_bias", "target_modules"] {
            #expect(text.contains("\"\(key)\""))
        }
        let svd = try JSONDecoder().decode(ConversionOptions.self, from: Data(#"{"method":"svd"}"#.utf8))
        #expect(svd.trainPosition == "output" && svd.sMergedTo == .frozen)
        #expect(try DecompModeSpec(parsing: #"{"qkv":"input","mlp_down":"output_block"}"#) == .perGroup(["qkv": .inputOneBlock, "mlp_down": .outputOneBlock]))
    }

    @Test func badOptionsGiveTypedErrorsNamingOptionAndValue() throws {
        func decode(_ s: String) throws -> ConversionOptions { try JSONDecoder().decode(ConversionOptions.self, from: Data(s.utf8)) }
        #expect(throws: ConversionError.invalidValue(module: nil, option: "train_position", value: "middle",
                                                     expected: "small, large or both (method fura)")) { try decode(#"{"train_position":"middle"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"s_merged_to":"sideways"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"rank":"half"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"rank":0}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"decomp_mode":"diagonal"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"decomp_mode":"{attn:input}"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"target_modules":["lm_head"]}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"convert_mode":"lu"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"train_position":"both","s_merged_to":"frozen"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"convert_mode":"qr","s_merged_to":"keep_trainable"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"method":"svd","train_position":"small"}"#) }
        #expect(throws: ConversionError.self) { try decode(#"{"input_factorization":"3,x"}"#) }
        // Module-specific: n·b ≠ d_in names the module, and the host is left untouched.
        let host = try TestLlamaHost()
        var options = ConversionOptions()
        options.inputFactorization = try InputFactorizationSpec(parsing: "{mlp_down:7,11}")
        #expect(throws: ConversionError.factorizationMismatch(module: "model.layers.0.mlp.down_proj", option: "input_factorization",
                                                              blocks: 7, blockSize: 11, features: 80)) { try Conversion.convert(host, options: options) }
        #expect(host.linear(named: "model.layers.0.self_attn.q_proj") is DenseLinear)
        let bad = host.linear(named: "model.layers.1.mlp.up_proj") as! DenseLinear
        bad.weight.value.storage[3] = .infinity
        #expect(throws: ConversionError.nonFiniteWeight(module: "model.layers.1.mlp.up_proj", count: 1)) {
            try Conversion.convert(host, options: ConversionOptions())
        }
        #expect(host.linear(named: "model.layers.0.self_attn.q_proj") is DenseLinear)
    }

    @Test func defaultConversionIsLosslessWithHeadFactorizationAndPaperTrainability() throws {
        let host = try TestLlamaHost()
        let before = try host.probe()
        let report = try Conversion.convert(host, options: ConversionOptions())
        #expect(report.modules.count == 14)
        #expect((report.maxReconstructionError ?? 1) < 1e-5)
        let after = try host.probe()
        for (name, y) in before { #expect(try after[name]!.relativeError(to: y) < 1e-5, "\(name)") }
        let o = host.linear(named: "model.layers.0.self_attn.o_proj") as! BTTLayer
        #expect(o.geometry == BTTGeometry(m: 1, a: 48, n: 4, b: 12, r: 12))
        let q = host.linear(named: "model.layers.0.self_attn.q_proj") as! BTTLayer
        #expect(q.geometry == BTTGeometry(m: 1, a: 48, n: 6, b: 8, r: 8))
        #expect(q.right.name == "model.layers.0.self_attn.q_proj.btt_r")
        let down = host.linear(named: "model.layers.1.mlp.down_proj") as! BTTLayer
        #expect(down.geometry == BTTGeometry(m: 1, a: 48, n: 8, b: 10, r: 10))
        // Trainable: btt_r + btt_s (+ q/k/v biases); everything else frozen.
        for (name, p) in Conversion.allParameters(host) {
            let expected = name.hasSuffix("btt_r") || name.hasSuffix("btt_s") || name.hasSuffix(".bias")
            #expect(p.trainable == expected, "\(name)")
        }
        // Closed form: d_in·(b + 1) per module + biases.
        let perLayer = 48 * 9 * 5 + 48 * 13 + 80 * 11 + (48 + 24 + 24)
        let counts = Conversion.parameterCounts(host)
        #expect(counts.trainable == 2 * perLayer)
        #expect(counts.byModule["o_proj"]!.trainable == 2 * 48 * 13)
        #expect(counts.byModule["embed_tokens"]!.frozen == 480 && counts.byModule["embed_tokens"]!.trainable == 0)
        #expect(counts.byModule["q_proj"]!.frozen == 2 * 48 * 48)
        let summary = report.byType
        #expect(summary.map(\.leaf) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        #expect(summary.first { $0.leaf == "o_proj" }!.trainable == counts.byModule["o_proj"]!.trainable)
        #expect(report.table.contains("o_proj"))
    }

    @Test func trainPositionsAndMethodsSetTrainableSets() throws {
        var both = ConversionOptions()
        both.trainPosition = "both"
        both.sMergedTo = nil
        let full = try TestLlamaHost()
        try Conversion.convert(full, options: both)
        #expect(Conversion.allParameters(full).allSatisfy { $0.parameter.trainable })
        #expect((full.linear(named: "model.layers.0.mlp.up_proj") as! BTTLayer).singular == nil)

        var large = ConversionOptions()
        large.trainPosition = "large"
        large.trainBias = false
        let host = try TestLlamaHost()
        try Conversion.convert(host, options: large)
        for (name, p) in Conversion.allParameters(host) {
            #expect(p.trainable == (name.hasSuffix("btt_l") || name.hasSuffix("btt_s")), "\(name)")
        }

        var svd = ConversionOptions(method: .svd)
        svd.trainPosition = "both"
        svd.sMergedTo = .keepTrainable
        let s = try TestLlamaHost()
        let before = try s.probe()
        let report = try Conversion.convert(s, options: svd)
        #expect((report.maxReconstructionError ?? 1) < 1e-5)
        let after = try s.probe()
        for (name, y) in before { #expect(try after[name]!.relativeError(to: y) < 1e-5, "\(name)") }
        for (name, p) in Conversion.allParameters(s) {
            let expected = name.contains("svd_") || name.hasSuffix(".bias") || name.contains("embed_tokens") || name.contains("lm_head")
            #expect(p.trainable == expected, "\(name)")
        }
    }

    @Test func targetModulesGroupsAndInputFactorizationsApply() throws {
        var options = ConversionOptions()
        options.targetModules = ["mlp"]
        let mlpOnly = try TestLlamaHost()
        try Conversion.convert(mlpOnly, options: options)
        #expect(mlpOnly.linear(named: "model.layers.0.self_attn.q_proj") is DenseLinear)
        #expect(mlpOnly.linear(named: "model.layers.0.mlp.gate_proj") is BTTLayer)
        #expect(!(mlpOnly.linear(named: "model.layers.0.self_attn.q_proj") as! DenseLinear).weight.trainable)

        options = ConversionOptions()
        options.decompMode = try DecompModeSpec(parsing: "{qkv:input,o:output,mlp_down:input}")
        options.inputFactorization = try InputFactorizationSpec(parsing: "{q_proj:head,o:closest,mlp_upgate:\"16,3\"}")
        let host = try TestLlamaHost()
        let before = try host.probe()
        try Conversion.convert(host, options: options)
        let after = try host.probe()
        for (name, y) in before { #expect(try after[name]!.relativeError(to: y) < 1e-5, "\(name)") }
        func g(_ leaf: String) -> BTTGeometry { (host.linear(named: "model.layers.0.\(leaf)") as! BTTLayer).geometry }
        // q: input_one_block with factorize_by_head output (4, 12); k: (2, 12).
        #expect(g("self_attn.q_proj") == BTTGeometry(m: 4, a: 12, n: 1, b: 48, r: 12))
        #expect(g("self_attn.k_proj") == BTTGeometry(m: 2, a: 12, n: 1, b: 48, r: 12))
        // o: closest cancels the head override ⇒ (6, 8).
        #expect(g("self_attn.o_proj") == BTTGeometry(m: 1, a: 48, n: 6, b: 8, r: 8))
        #expect(g("mlp.gate_proj") == BTTGeometry(m: 1, a: 80, n: 16, b: 3, r: 3))
        #expect(g("mlp.down_proj") == BTTGeometry(m: 6, a: 8, n: 1, b: 80, r: 8))

        options = ConversionOptions()
        options.decompMode = .uniform(.outputOneBlock)
        options.inputFactorization = .uniform(.head)
        options.factorizeByHead = false
        let heads = try TestLlamaHost()
        try Conversion.convert(heads, options: options)
        #expect((heads.linear(named: "model.layers.0.self_attn.k_proj") as! BTTLayer).geometry.n == 4)
        #expect((heads.linear(named: "model.layers.0.mlp.up_proj") as! BTTLayer).geometry.n == 6)
    }

    @Test func materializeAfterUpdatesReproducesOutputs() throws {
        for method in ConversionMethod.allCases {
            let host = try TestLlamaHost()
            try Conversion.convert(host, options: ConversionOptions(method: method))
            var seed: UInt64 = 77
            for (_, p) in Conversion.allParameters(host) where p.trainable {
                seed += 1
                try p.value.add(TestSupport.random(p.value.shape, seed: seed, std: 0.05))
            }
            let before = try host.probe()
            let merged = try Conversion.materialize(host)
            #expect(merged.count == 14)
            #expect(host.linear(named: "model.layers.1.mlp.down_proj") is DenseLinear)
            let after = try host.probe()
            for (name, y) in before { #expect(try after[name]!.relativeError(to: y) < 1e-5, "\(method) \(name)") }
        }
    }

    @Test func normalizeAfterUpdateRunsOverTheHost() throws {
        let host = try TestLlamaHost()
        try Conversion.convert(host, options: ConversionOptions())
        let q = host.linear(named: "model.layers.0.self_attn.q_proj") as! BTTLayer
        q.right.value.scale(by: 3)
        Conversion.normalizeAfterUpdate(host)
        var sum: Float = 0
        for qq in 0..<q.geometry.b { sum += q.right.value[0, qq, 0] * q.right.value[0, qq, 0] }
        #expect(abs(sum - 1) < 1e-5)
    }

    /// Modules convert side by side (largest first, each on one thread): the result equals the one-thread result exactly,
    /// for both methods, and the report stays in slot order.
    @Test func sideBySideConversionEqualsOneThread() throws {
        for method in ConversionMethod.allCases {
            func run(threads: Int) throws -> (TestLlamaHost, ConversionReport) {
                Threading.setThreadCount(threads)
                defer { Threading.setThreadCount(1) }
                let host = try TestLlamaHost(layers: 3)
                return (host, try Conversion.convert(host, options: ConversionOptions(method: method)))
            }
            let (one, oneReport) = try run(threads: 1)
            let (two, twoReport) = try run(threads: 2)
            #expect(oneReport.modules.map(\.slot) == one.linearSlotNames)
            #expect(twoReport.modules.map(\.slot) == two.linearSlotNames)
            let a = Conversion.allParameters(one), b = Conversion.allParameters(two)
            #expect(a.count == b.count && a.count > 21)
            for (x, y) in zip(a, b) {
                #expect(x.name == y.name && x.parameter.name == y.parameter.name)
                #expect(x.parameter.value == y.parameter.value, "\(method) \(x.name)")
                #expect(x.parameter.trainable == y.parameter.trainable)
            }
        }
    }

    @Test func scheduleRunsEveryJobOnceInTheGivenOrder() {
        let order = [5, 0, 3, 1, 4, 2, 7, 6]
        for threads in [1, 2, 3] {
            Threading.setThreadCount(threads)
            defer { Threading.setThreadCount(1) }
            let lock = NSLock()
            var seen: [Int] = []
            ConversionSchedule.forEach(order) { i in lock.lock(); seen.append(i); lock.unlock() }
            #expect(seen.sorted() == order.sorted(), "threads \(threads)")
            // Jobs start in `order`; with one thread they also finish in it.
            if threads == 1 { #expect(seen == order) }
        }
        var none: [Int] = []
        ConversionSchedule.forEach([]) { none.append($0) }
        #expect(none.isEmpty)
    }

    /// QFuRA: layers quantize side by side; the result equals the one-thread result exactly.
    @Test func quantizeFrozenCoresSideBySideEqualsOneThread() throws {
        func run(threads: Int) throws -> TestLlamaHost {
            Threading.setThreadCount(threads)
            defer { Threading.setThreadCount(1) }
            let host = try TestLlamaHost(layers: 2)
            try Conversion.convert(host, options: ConversionOptions())
            #expect(try Conversion.quantizeFrozenCores(host).count == 14)
            return host
        }
        let one = try run(threads: 1), two = try run(threads: 2)
        for slot in one.linearSlotNames {
            let a = try #require(one.linear(named: slot) as? QBTTLayer), b = try #require(two.linear(named: slot) as? QBTTLayer)
            #expect(try a.denseWeight() == b.denseWeight(), "\(slot)")
            #expect(a.sourceFingerprint == b.sourceFingerprint)
        }
    }
}
