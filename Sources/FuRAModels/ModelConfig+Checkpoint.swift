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
        let h = hiddenSize
        var out = [CheckpointTensor(name: "model.embed_tokens.weight", shape: [vocabSize, h], kind: .matrix)]
        let norms = [family.layerNorms.input, family.layerNorms.preMLP, family.layerNorms.attentionOutput, family.layerNorms.mlpOutput]
        let projections = layerProjections
        for layer in 0..<numHiddenLayers {
            let prefix = "model.layers.\(layer)."
            for norm in norms.compactMap({ $0 }) { out.append(.init(name: prefix + norm, shape: [h], kind: .norm)) }
            var done = Set<String>()
            for p in projections where !done.contains(p.path) {
                // A fused family stores the group's parts stacked by rows under one name.
                let group = family.fusedGroups.first { $0.parts.contains(p.path) }
                let parts = group.map { g in projections.filter { g.parts.contains($0.path) } } ?? [p]
                let name = prefix + (group?.fused ?? p.path)
                let rows = parts.reduce(0) { $0 + $1.rows }
                out.append(.init(name: name + ".weight", shape: [rows, p.columns], kind: .matrix))
                if p.hasBias { out.append(.init(name: name + ".bias", shape: [rows], kind: .bias)) }
                for part in parts { done.insert(part.path) }
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
