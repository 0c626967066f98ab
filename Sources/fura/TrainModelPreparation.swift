import Foundation
import FuRA
import FuRAFormats
import FuRAModels
import FuRATrain

/// Loads the model and tokenizer of `config`, applies `config.method` (conversion or adapters, trainability) unless
/// `applyMethod` is false (the model then stays frozen: a visual run's stage 1); the setup is nil then.
///
/// The one place `fura train` meets model loading (FuRAModels/FuRAFormats) and the method room (FuRA).
func prepareModel(_ config: TrainConfig, applyMethod: Bool = true) throws -> (LoadedModel, SFTTokenizer, TrainMethodSetup?) {
    // A method that reads each projection once streams it from the file (QFuRA and QLoRA hold one f32 weight per thread).
    let streams = try applyMethod && MethodRegistry.type(of: config.method).streamsProjections
    let loaded = try ModelLoader.load(path: config.model, deferProjections: streams)
    guard let tokenizer = loaded.tokenizer else {
        throw TrainingError.invalidOption(option: "model", value: config.model,
                                          reason: "no tokenizer found with the model (GGUF tokenizer metadata or tokenizer.json)")
    }
    let sft = try sftTokenizer(tokenizer, model: config.model, purpose: "training")
    loaded.model.gradientCheckpointing = config.gradientCheckpointing
    let setup = applyMethod ? try TrainMethodSetup.apply(config, to: loaded.model) : nil
    loaded.model.computePrecision = config.precision
    return (loaded, sft, setup)
}

/// The data loaders' view of a tokenizer: encode, the end-of-sequence text, the pad id and the chat template.
/// Padding positions are masked by length, so the pad id only has to be a valid token (the reference pads with EOS
/// when the tokenizer has no pad token).
func sftTokenizer(_ tokenizer: Tokenizer, model: String, purpose: String) throws -> SFTTokenizer {
    guard let eosId = tokenizer.eosId, let eosText = tokenizer.token(for: eosId) else {
        throw TrainingError.invalidOption(option: "model", value: model, reason: "the tokenizer has no end-of-sequence token (needed for \(purpose))")
    }
    let template = tokenizer.chatTemplate.map { template in
        { (messages: [ChatMessage], generation: Bool) throws -> String in template.render(messages, addGenerationPrompt: generation) }
    }
    return SFTTokenizer(encode: { tokenizer.encode($0) }, eosText: eosText, padId: tokenizer.padId ?? eosId, chatTemplate: template)
}

/// Whether an adapter folder (or run folder) also adapts the language model, not only a visual run's projector (stage 1).
func adaptsLanguageModel(_ adapter: String?) -> Bool {
    guard let adapter else { return false }
    return FileManager.default.fileExists(atPath: AdapterFiles.resolveDirectory(adapter) + "/" + AdapterFiles.configName)
}
