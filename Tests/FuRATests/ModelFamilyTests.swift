import Foundation
import FuRAModels
import FuRANN
import Testing

@Suite struct ModelFamilyTests {
    @Test func registryFindsFamiliesByModelTypeAndGGUFArchitecture() throws {
        for family in ModelFamily.registered {
            #expect(ModelFamily.named(family.modelType) == family)
            #expect(ModelFamily.forGGUF(architecture: family.ggufArchitecture) == family)
        }
        #expect(ModelFamily.named("llama")?.className == "LlamaForCausalLM")
        #expect(ModelFamily.named("llama")?.permutesQueryKeyInGGUF == true && ModelFamily.named("qwen2")?.permutesQueryKeyInGGUF == false)
        #expect(ModelFamily.named("qwen2")?.defaultAttentionBias == true && ModelFamily.named("qwen3")?.defaultQKNorm == true)
        #expect(ModelFamily.named("gpt-neox") == nil)
    }

    @Test func unknownModelTypeIsATypedError() throws {
        let json = #"{"model_type": "gpt-neox", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10}"#
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        #expect(throws: ModelConfigError.self) { try config.validate() }
        do { try config.validate() } catch { #expect("\(error)".contains("model_type = gpt-neox")) }
    }

    /// Who uses `sliding_window`: every layer in Mistral/Phi-3, Gemma's pattern (five local, one global), nobody in Llama/Qwen2.
    @Test func slidingWindowLayersFollowTheFamily() throws {
        func config(_ type: String) -> ModelConfig {
            ModelConfig(modelType: type, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 6, numAttentionHeads: 2, vocabSize: 10,
                        slidingWindow: 4)
        }
        #expect((0..<6).allSatisfy { config("mistral").usesSlidingWindow(layer: $0) && config("phi3").usesSlidingWindow(layer: $0) })
        #expect(!(0..<6).contains { config("llama").usesSlidingWindow(layer: $0) || config("qwen2").usesSlidingWindow(layer: $0) })
        #expect((0..<6).map { config("gemma3_text").usesSlidingWindow(layer: $0) } == [true, true, true, true, true, false])
        var gemma = config("gemma3_text")
        gemma.ropeTheta = 1_000_000
        #expect(gemma.ropeTheta(layer: 0) == 10000 && gemma.ropeTheta(layer: 5) == 1_000_000)
    }

    @Test func logitSoftcappingIsATypedError() throws {
        let json = #"{"model_type": "gemma3_text", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10, "final_logit_softcapping": 30.0, "attn_logit_softcapping": null}"#
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        do { try config.validate(); Issue.record("accepted final_logit_softcapping") } catch {
            #expect("\(error)".contains("final_logit_softcapping = 30.0"))
        }
    }

    @Test func familyTensorNamesMapBothWays() throws {
        for family in ModelFamily.registered {
            for pair in family.blockTensorNames {
                #expect(family.hfName(ofGGUF: "blk.2." + pair.gguf) == "model.layers.2." + pair.hf)
                #expect(family.ggufName(ofHF: "model.layers.2." + pair.hf) == "blk.2." + pair.gguf)
            }
        }
    }
}
