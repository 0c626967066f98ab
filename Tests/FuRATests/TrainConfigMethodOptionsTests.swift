import Foundation
import FuRA
import FuRATrain
import Testing

@Suite struct TrainConfigMethodOptionsTests {
    static let required: [String: Any] = ["model": "m.gguf", "data": "d.json", "output": "out"]

    @Test func defaultsAreThePapers() throws {
        let c = try TrainConfig.resolve(file: nil, overrides: Self.required)
        #expect(try c.conversionOptions() == ConversionOptions(method: .fura))
        #expect(try c.quantizationOptions() == QFuRAOptions())
        var lora = Self.required
        lora["method"] = "lora"
        #expect(try TrainConfig.resolve(file: nil, overrides: lora).conversionOptions() == nil)
    }

    @Test func keysReachTheConversionOptionsAndRoundTrip() throws {
        var o = Self.required
        o["method"] = "qfura"
        o["decomp_mode"] = "square"; o["rank"] = "16"; o["train_position"] = "large"; o["s_merged_to"] = "frozen"
        o["target_modules"] = "q_proj, v_proj"; o["factorize_by_head"] = false; o["quant_block_layout"] = "per_core_block"
        o["double_quant"] = false
        let c = try TrainConfig.resolve(file: nil, overrides: o)
        let options = try #require(try c.conversionOptions())
        #expect(options.decompMode == .uniform(.square) && options.rank == .fixed(16) && options.trainPosition == "large")
        #expect(options.sMergedTo == .frozen && options.targetModules == ["q_proj", "v_proj"] && !options.factorizeByHead)
        let quant = try c.quantizationOptions()
        #expect(quant.layout == .perCoreBlock && !quant.doubleQuantization)
        // The saved config resolves to the same settings.
        let again = try TrainConfig.resolve(file: try c.json(), overrides: [:])
        #expect(try again.conversionOptions() == options)
        #expect(try again.quantizationOptions() == quant)
    }

    @Test func badValuesAreTypedErrorsNamingTheOption() throws {
        for (key, value) in [("s_merged_to", "sideways"), ("convert_mode", "lu"), ("rank", "-3"), ("decomp_mode", "diagonal")] {
            var o = Self.required
            o[key] = value
            // Checked when the config resolves, before any model is loaded.
            #expect(throws: TrainingError.self) { try TrainConfig.resolve(file: nil, overrides: o).conversionOptions() }
        }
        var o = Self.required
        o["quant_block_layout"] = "zigzag"
        #expect(throws: TrainingError.self) { try TrainConfig.resolve(file: nil, overrides: o).quantizationOptions() }
    }
}
