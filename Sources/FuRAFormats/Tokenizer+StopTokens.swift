extension Tokenizer {
    /// The special tokens that end a chat turn in the families we read (ChatML, Llama 3, Llama 2, Gemma).
    public static let turnEndTokens = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>", "<end_of_turn>"]

    /// End of sequence and every turn-end token this vocabulary has: where a sampled reply stops.
    public var turnEndIds: Set<Int> {
        var ids = Set(Self.turnEndTokens.compactMap { id(for: $0) })
        if let eosId { ids.insert(eosId) }
        return ids
    }
}
