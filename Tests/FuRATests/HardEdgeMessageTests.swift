import Foundation
@testable import FuRA
import FuRAFormats
@testable import FuRAModels
import FuRANN
import FuRATensor
import FuRATrain
import Testing

/// One-line messages for bad inputs and failing disks, and the refusals that used to pass silently.
@Suite struct HardEdgeMessageTests {
    @Test func fileErrorsReadAsOneShortClause() throws {
        do { _ = try Data(contentsOf: URL(fileURLWithPath: "/nonexistent/fura/data.json")); Issue.record("expected an error") } catch {
            #expect(ErrorText.file(error) == "No such file or directory")
        }
        let full = NSError(domain: NSCocoaErrorDomain, code: NSFileWriteOutOfSpaceError,
                           userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
        #expect(ErrorText.file(full).hasPrefix("the disk is full"))
        #expect(ErrorText.file(NSError(domain: NSCocoaErrorDomain, code: NSFileWriteVolumeReadOnlyError)).hasPrefix("the file system is read-only"))
        #expect(ErrorText.file(FileError.cannotWrite(path: "p", reason: "because")) == "because")
        do { _ = try JSONSerialization.jsonObject(with: Data("{\"a\": tru}".utf8)); Issue.record("expected an error") } catch {
            let text = ErrorText.json(error)
            #expect(!text.contains("Domain=") && !text.isEmpty, "\(text)")
        }
    }

    @Test func anUnwritableOutputIsRefusedBeforeAnythingLoads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fura-rundir-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try RunDirectory.prepare(dir + "/run")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/run").isEmpty, "the probe is removed")
        try Data().write(to: URL(fileURLWithPath: dir + "/file"))
        do { try RunDirectory.prepare(dir + "/file/run"); Issue.record("expected an error") } catch let error as TrainingError {
            #expect("\(error)".hasPrefix("\(dir)/file/run: cannot write: "), "\(error)")
            #expect(!"\(error)".contains("Domain="))
        }
    }

    @Test func aByteOrderMarkDoesNotBreakADataFile() throws {
        let tokenizer = SFTTokenizer(encode: { $0.utf8.map(Int.init) }, eosText: "", padId: 0)
        let json = #"[{"instruction": "Say yes", "input": "", "output": "yes", "answer": "yes"}]"#
        let plain = try SFTRecords.parse(Data(json.utf8), path: "d.json", tokenizer: tokenizer)
        let marked = try SFTRecords.parse(Data([0xEF, 0xBB, 0xBF] + Array(json.utf8)), path: "d.json", tokenizer: tokenizer)
        #expect(marked == plain && plain.count == 1)
    }

    @Test(.enabled(if: TestModel.available)) func aTokenizerLargerThanTheEmbeddingIsRefused() throws {
        var loaded = try TestModel.smolLM2()
        try ModelLoader.checkTokenizerFits(loaded)
        let size = try #require(loaded.tokenizer).vocabularySize
        loaded.config.vocabSize = size - 1
        #expect(throws: ModelError.self) { try ModelLoader.checkTokenizerFits(loaded) }
        loaded.config.vocabSize = size + 64  // a padded embedding (Qwen) is fine
        try ModelLoader.checkTokenizerFits(loaded)
    }

    @Test func aLoRARankAboveTheWeightIsRefusedBeforeAllocation() throws {
        let base = try FrozenWeight(Tensor.zeros([4, 6]), format: .float32)
        _ = try LoRALinear(base: base, options: LoRAOptions(rank: 6), seed: 1)
        #expect(throws: LayerError.self) { try LoRALinear(base: base, options: LoRAOptions(rank: 1_000_000), seed: 1) }
        #expect(throws: LayerError.self) { try DoRALinear(base: base, options: DoRAOptions(lora: LoRAOptions(rank: 7)), seed: 1) }
    }

    @Test func theAdapterSaysWhenItsBaseDiffers() throws {
        let hub = AdapterMethod(method: .lora, baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct")
        #expect(hub.baseModelMismatch(loadedPath: "cache/SmolLM2-135M-Instruct.Q4_1.gguf") == nil)
        let absolute = AdapterMethod(method: .fura, baseModel: "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(absolute.baseModelMismatch(loadedPath: "/elsewhere/SmolLM2-135M-Instruct.Q4_1.gguf") == nil)
        let other = try #require(absolute.baseModelMismatch(loadedPath: "/models/gemma-3-270m.gguf"))
        #expect(other.contains("/models/SmolLM2-135M-Instruct.Q4_1.gguf") && other.contains("gemma-3-270m.gguf"))
        #expect(AdapterMethod(method: .lora).baseModelMismatch(loadedPath: "/any") == nil)
    }
}
