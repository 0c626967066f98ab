import FuRAModels
import FuRATrain

/// Loads the model and tokenizer of `config`, converts the model to `config.method` and sets what trains.
///
/// The one place `fura train` meets model loading (FuRAModels/FuRAFormats) and method conversion (FuRA).
/// Neither has landed on this branch yet, so this reports that plainly instead of training anything.
func prepareModel(_ config: TrainConfig) throws -> (any LanguageModel, SFTTokenizer) {
    throw TrainingError.invalidOption(
        option: "model", value: config.model,
        reason: "this build of fura cannot load models for training yet (model loading and the \(config.method.rawValue) "
            + "conversion are not wired into `fura train`)")
}
