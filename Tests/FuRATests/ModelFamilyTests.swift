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

    @Test func familyTensorNamesMapBothWays() throws {
        for family in ModelFamily.registered {
            for pair in family.blockTensorNames {
                #expect(family.hfName(ofGGUF: "blk.2." + pair.gguf) == "model.layers.2." + pair.hf)
                #expect(family.ggufName(ofHF: "model.layers.2." + pair.hf) == "blk.2." + pair.gguf)
            }
        }
    }
}
