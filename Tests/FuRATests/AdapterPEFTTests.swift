import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATrain
import Testing

/// PEFT compatibility: adapters saved by PyTorch PEFT 0.21 (`scripts/fixtures/peft_adapter.py`) load here and give
/// PEFT's logits; adapters we save carry exactly PEFT's tensor names and shapes.
@Suite struct AdapterPEFTTests {
    static let fixtures = FormatFixtures.root.appendingPathComponent("Tests/Fixtures/peft").path

    static func reference() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/logits.json"))) as? [String: Any] ?? [:]
    }

    @Test(arguments: ["lora", "dora"])
    func peftAdapterGivesPEFTLogits(name: String) throws {
        let reference = try Self.reference()
        let ids = try #require(reference["ids"] as? [[Int]])
        let expected = try #require(reference[name] as? [Double])
        let loaded = try ModelLoader.load(path: Self.fixtures + "/base")
        let method = try AdapterFiles.load(Self.fixtures + "/" + name, into: loaded.model)
        #expect(method.method == (name == "dora" ? .dora : .lora))
        let logits = try loaded.model.logits(for: ids, allPositions: true).storage
        #expect(logits.count == expected.count)
        let scale = expected.map { abs($0) }.max() ?? 1
        let worst = zip(logits, expected).map { abs(Double($0) - $1) }.max() ?? 1
        #expect(worst <= 1e-4 * scale, "\(name): logits differ from PEFT's by \(worst) (scale \(scale))")
        let base = try #require(reference["base"] as? [Double])
        #expect(zip(base, expected).map { abs($0 - $1) }.max() ?? 0 > 1e-3, "the fixture adapter must change the logits")
    }

    @Test(arguments: ["lora", "dora"])
    func savedAdapterHasPEFTNamesAndShapes(name: String) throws {
        let loaded = try ModelLoader.load(path: Self.fixtures + "/base")
        let method = try AdapterFiles.load(Self.fixtures + "/" + name, into: loaded.model)
        let dir = try AdapterFilesTests.temporary()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AdapterFiles.save(loaded.model, method: method, to: dir)
        let ours = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
        let peft = try SafetensorsFile(path: Self.fixtures + "/" + name + "/adapter_model.safetensors")
        #expect(ours.tensorNames == peft.tensorNames)
        for n in peft.tensorNames { #expect(ours.infos[n]?.shape == peft.infos[n]?.shape, "\(n)") }
        for n in peft.tensorNames { #expect(try ours.tensor(named: n).storage == peft.tensor(named: n).storage, "\(n)") }
    }
}

/// PiSSA as PEFT shares it (`scripts/fixtures/peft_pissa.py`): the converted rank-2r LoRA that PEFT writes loads here
/// and gives the trained PiSSA model's logits; our own PiSSA adapters are written in that same form
/// (`MethodRegistryTests.pissaAdapterRoundTripsAsRank2rLoRA`).
@Suite struct AdapterPEFTPiSSATests {
    @Test(arguments: ["pissa", "pissa_rslora"])
    func peftPiSSAAdapterGivesPEFTLogits(name: String) throws {
        let root = AdapterPEFTTests.fixtures
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/pissa_logits.json"))) as? [String: Any] ?? [:]
        let ids = try #require(reference["ids"] as? [[Int]])
        let expected = try #require(reference[name] as? [Double])
        let loaded = try ModelLoader.load(path: root + "/base")
        let method = try AdapterFiles.load(root + "/" + name, into: loaded.model)
        #expect(method.method == .lora && method.lora.rank == 8 && method.lora.useRSLoRA == (name == "pissa_rslora"))
        let logits = try loaded.model.logits(for: ids, allPositions: true).storage
        let scale = expected.map { abs($0) }.max() ?? 1
        let worst = zip(logits, expected).map { abs(Double($0) - $1) }.max() ?? 1
        #expect(worst <= 1e-4 * scale, "\(name): logits differ from PEFT's by \(worst) (scale \(scale))")
        let base = try #require(try AdapterPEFTTests.reference()["base"] as? [Double])
        #expect(zip(base, expected).map { abs($0 - $1) }.max() ?? 0 > 1e-3, "the fixture adapter must change the logits")
    }
}
