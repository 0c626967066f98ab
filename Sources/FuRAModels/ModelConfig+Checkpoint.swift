/// The tensors of a config's Hugging Face checkpoint, as the loader reads them: the family's layer norms, the seven
/// projections (stacked into `qkv_proj`/`gate_up_proj` for fused families), biases and q/k norms where the config
/// has them, the final norm, and the LM head unless it is tied.
extension ModelConfig {
    public struct CheckpointTensor: Equatable, Sendable {
        public enum Kind: Sendable { case matrix, norm, bias }
        public var name: String
        public var shape: [Int]
        public var kind: Kind
    }

    public var checkpointTensors: [CheckpointTensor] {
        let h = hiddenSize, q = numAttentionHeads * headDim, kv = numKeyValueHeads * headDim
        var out = [CheckpointTensor(name: "model.embed_tokens.weight", shape: [vocabSize, h], kind: .matrix)]
        let norms = [family.layerNorms.input, family.layerNorms.preMLP, family.layerNorms.attentionOutput, family.layerNorms.mlpOutput]
        let projections: [(leaf: String, rows: Int, columns: Int, bias: Bool)] = [
            ("self_attn.q_proj", q, h, attentionBias), ("self_attn.k_proj", kv, h, attentionBias), ("self_attn.v_proj", kv, h, attentionBias),
            ("self_attn.o_proj", h, q, false), ("mlp.gate_proj", intermediateSize, h, mlpBias), ("mlp.up_proj", intermediateSize, h, mlpBias),
            ("mlp.down_proj", h, intermediateSize, mlpBias),
        ]
        for layer in 0..<numHiddenLayers {
            let prefix = "model.layers.\(layer)."
            for norm in norms.compactMap({ $0 }) { out.append(.init(name: prefix + norm, shape: [h], kind: .norm)) }
            var done = Set<String>()
            for p in projections where !done.contains(p.leaf) {
                // A fused family stores the group's parts stacked by rows under one name.
                let group = family.fusedGroups.first { $0.parts.contains(p.leaf) }
                let parts = group.map { g in projections.filter { g.parts.contains($0.leaf) } } ?? [p]
                let name = prefix + (group?.fused ?? p.leaf)
                let rows = parts.reduce(0) { $0 + $1.rows }
                out.append(.init(name: name + ".weight", shape: [rows, p.columns], kind: .matrix))
                if p.bias { out.append(.init(name: name + ".bias", shape: [rows], kind: .bias)) }
                for part in parts { done.insert(part.leaf) }
            }
            if qkNorm {
                out.append(.init(name: prefix + "self_attn.q_norm.weight", shape: [headDim], kind: .norm))
                out.append(.init(name: prefix + "self_attn.k_norm.weight", shape: [headDim], kind: .norm))
            }
        }
        out.append(.init(name: "model.norm.weight", shape: [h], kind: .norm))
        if !tieWordEmbeddings { out.append(.init(name: "lm_head.weight", shape: [vocabSize, h], kind: .matrix)) }
        return out
    }
}
