import ArgumentParser
import FuRAModels

/// How new tokens are chosen, shared by `fura generate` and `fura chat` (one declaration, one help text).
struct SamplingOptionGroup: ParsableArguments {
    @Option(name: .customLong("max-tokens"), help: "New tokens at most.") var maxTokens = 128
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0: off).") var topK = 0
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (1: off).") var topP: Float = 1
    @Option(name: .customLong("min-p"), help: "Drop tokens below min-p × the top probability (0: off).") var minP: Float = 0
    @Option(name: .customLong("repetition-penalty"), help: "HF repetition penalty (1: off).") var repetitionPenalty: Float = 1
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func validate() throws {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be ≥ 1 (got \(maxTokens))") }
    }

    var sampling: SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP, repetitionPenalty: repetitionPenalty)
    }

    /// The generation options with these choices, ending at `eos` and at any of `stop`.
    func generationOptions(eos: Set<Int>, stop: [String] = []) -> GenerationOptions {
        GenerationOptions(maxNewTokens: maxTokens, sampling: sampling, seed: seed, eosTokenIds: eos, stopStrings: stop)
    }
}
