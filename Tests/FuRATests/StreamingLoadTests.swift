import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRANN
import FuRATensor
import FuRATestSupport
import FuRATrain
import Testing

/// Deferred projections (`ModelLoader.load(path:deferProjections:)`): the weights stay in the file until a method
/// reads them, so that QFuRA and QLoRA hold one f32 weight per converting thread. Every result equals the resident load's.
@Suite struct StreamingLoadTests {
    static let fixtures = ["qwen2_bias", "phi3_fused", "llama3_scaled"]

    static func batch() -> TokenBatch {
        TokenBatch(ids: [[1, 7, 30, 2, 9, 14, 5], [3, 11, 4, 0, 0, 0, 0]], labels: [[7, 30, 2, 9, 14, 3, 8], [11, 4, 6, -100, -100, -100, -100]], lengths: [7, 3])
    }

    /// A deferred load reads the same weights (fused projections split, biases kept) and scores the same, before and
    /// after its slots are settled.
    @Test(arguments: StreamingLoadTests.fixtures)
    func deferredLoadIsTheSameModel(name: String) throws {
        let path = ModelLoaderTests.tinyDirectory(name).path
        let resident = try ModelLoader.load(path: path).model, deferred = try ModelLoader.load(path: path, deferProjections: true).model
        for slot in resident.linearSlotNames {
            let layer = try #require(deferred.linear(named: slot) as? DeferredLinear, "\(slot)")
            #expect(layer.parameters.isEmpty)
            #expect(try layer.denseWeight() == resident.linear(named: slot)!.denseWeight(), "\(slot)")
            #expect(layer.denseBias == resident.linear(named: slot)!.denseBias, "\(slot)")
        }
        let expected = try resident.labelLogProbabilities(Self.batch())
        #expect(try deferred.labelLogProbabilities(Self.batch()) == expected)   // first use reads each weight into memory
        let settled = try DeferredLinear.settle(deferred)
        #expect(settled == resident.linearSlotNames)
        #expect(deferred.linearSlotNames.allSatisfy { deferred.linear(named: $0) is DenseLinear })
        #expect(deferred.namedParameters.map(\.name) == resident.namedParameters.map(\.name))
        #expect(try deferred.labelLogProbabilities(Self.batch()) == expected)
    }

    /// QFuRA streams: each deferred weight is converted, its trainability set and its frozen core stored in NF4 on its
    /// thread. The layers equal those of a resident conversion quantized afterwards, bit for bit.
    @Test(arguments: StreamingLoadTests.fixtures)
    func streamingQFuRAEqualsConvertingThenQuantizing(name: String) throws {
        let path = ModelLoaderTests.tinyDirectory(name).path
        let method = try MethodRegistry.make(.qfura, settings: MethodSettings())
        let streamed = try ModelLoader.load(path: path, deferProjections: true).model
        _ = try TrainMethodSetup.apply(method, to: streamed, seed: 3)

        let resident = try ModelLoader.load(path: path).model
        let options = try #require((method as? QFuRAMethod)?.conversion)
        try Conversion.convert(resident, options: options, measureReconstruction: false)
        try Conversion.quantizeFrozenCores(resident, options: try #require((method as? QFuRAMethod)?.quantization))

        for slot in resident.linearSlotNames {
            let a = try #require(streamed.linear(named: slot) as? QBTTLayer, "\(slot)")
            let b = try #require(resident.linear(named: slot) as? QBTTLayer, "\(slot)")
            #expect(try a.denseWeight() == b.denseWeight(), "\(slot)")
            #expect(a.sourceFingerprint == b.sourceFingerprint)
            #expect(a.parameters.map(\.name) == b.parameters.map(\.name))
            #expect(a.parameters.map(\.parameter.trainable) == b.parameters.map(\.parameter.trainable))
        }
        #expect(Conversion.parameterCounts(streamed) == Conversion.parameterCounts(resident))
        #expect(try streamed.labelLogProbabilities(Self.batch()) == resident.labelLogProbabilities(Self.batch()))
    }

    /// LoRA on a deferred load: the targeted bases are read once into their frozen copies, the slots it leaves are
    /// settled into resident dense layers, so the parameter list and the outputs are the resident run's.
    @Test(arguments: [MethodName.lora, .qlora])
    func loraFamilyOnADeferredLoadSettlesTheRest(method name: MethodName) throws {
        let path = ModelLoaderTests.tinyDirectory("qwen2_bias").path
        let settings = MethodSettings(loraRank: 4, loraAlpha: 8, loraDropout: 0, targetModules: "q_proj,v_proj,down_proj")
        let streamed = try ModelLoader.load(path: path, deferProjections: true).model
        _ = try TrainMethodSetup.apply(MethodRegistry.make(name, settings: settings), to: streamed, seed: 5)
        let resident = try ModelLoader.load(path: path).model
        _ = try TrainMethodSetup.apply(MethodRegistry.make(name, settings: settings), to: resident, seed: 5)
        #expect(!streamed.linearSlotNames.contains { streamed.linear(named: $0) is DeferredLinear })
        #expect(streamed.namedParameters.map(\.name) == resident.namedParameters.map(\.name))
        #expect(streamed.namedParameters.map(\.parameter.trainable) == resident.namedParameters.map(\.parameter.trainable))
        #expect(try streamed.labelLogProbabilities(Self.batch()) == resident.labelLogProbabilities(Self.batch()))
    }

    /// A weight whose shape is not the slot's is a typed error when it is read, naming the tensor; so is a bad bias.
    @Test func wrongShapesAreTypedErrors() throws {
        let layer = try DeferredLinear(name: "model.layers.0.mlp.up_proj", outFeatures: 4, inFeatures: 3, bias: nil) { Tensor.zeros([3, 4]) }
        #expect(throws: LayerError.badInput(layer: "model.layers.0.mlp.up_proj", expected: "weight (4, 3)", actual: [3, 4])) {
            try layer.denseWeight()
        }
        #expect(throws: LayerError.self) { try layer.forward(Tensor.zeros([2, 3]), keepForBackward: false) }
        #expect(throws: LayerError.self) {
            try DeferredLinear(name: "b", outFeatures: 4, inFeatures: 3, bias: Tensor.zeros([3])) { Tensor.zeros([4, 3]) }
        }
    }

    /// Dropping a mapped file's pages leaves its bytes readable and unchanged.
    @Test func droppedPagesReadTheSame() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fura-pages-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try MappedFile(path: path)
        file.dropPages(0..<file.count)
        file.dropPages(5..<9)   // within one page: nothing to drop
        file.dropPages(60_000..<90_000)   // past the end: ignored
        #expect(Array(file.bytes) == bytes)
    }
}
