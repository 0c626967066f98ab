import FuRAFormats
import FuRAModels

/// The generate protocol's `TextGenerator` on a real model: greedy decoding of all prompts as one
/// batch when `numBeams == 1`, HF-style beam search otherwise (the reference uses 4 beams), all prompts
/// of a call searched together (`BeamSearch.search(prompts:)`).
/// Returns only the new text, decoded without special tokens, as the reference strips the prompt.
public final class ModelTextGenerator: TextGenerator {
    public let engine: GenerationModel
    public let tokenizer: Tokenizer
    public let eosTokenIds: Set<Int>
    let encoder: TokenizerEncoder

    public convenience init(model: CausalLM, tokenizer: Tokenizer, precision: GenerationWeightPrecision = .float32) throws {
        self.init(engine: try GenerationModel(model: model, precision: precision), tokenizer: tokenizer)
    }

    /// Generates with an existing engine (shared with a `PackedModelScorer`).
    public init(engine: GenerationModel, tokenizer: Tokenizer) {
        self.engine = engine
        self.tokenizer = tokenizer
        eosTokenIds = Set([tokenizer.eosId, engine.model.config.eosTokenId].compactMap { $0 })
        encoder = TokenizerEncoder(tokenizer: tokenizer)
    }

    public func generate(prompts: [String], maxNewTokens: Int, numBeams: Int) throws -> [String] {
        let ids = try prompts.map { try encoder.encode($0) }
        let decode: ([Int]) -> String = { [tokenizer] in tokenizer.decode($0, skipSpecial: true) }
        if numBeams <= 1 {
            let options = GenerationOptions(maxNewTokens: maxNewTokens, sampling: .greedy, eosTokenIds: eosTokenIds)
            return try Generator(model: engine).generate(prompts: ids, options: options, decode: decode).map(\.text)
        }
        let search = try BeamSearch(model: engine, beams: numBeams)
        return try search.search(prompts: ids, maxNewTokens: maxNewTokens, eosTokenIds: eosTokenIds).map { hypotheses in
            hypotheses.first.map { decode($0.ids.filter { !eosTokenIds.contains($0) }) } ?? ""
        }
    }
}
