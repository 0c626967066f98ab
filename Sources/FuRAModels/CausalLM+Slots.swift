import FuRANN
import FuRATensor

/// The named slots and parameters of the causal LM (HF checkpoint names).
extension CausalLM {
    public var linearSlotNames: [String] {
        blocks.flatMap { b in
            ModelConfig.projectionPaths.map { "model.layers.\(b.index).\($0)" }
        }
    }

    private func locate(_ name: String) -> (DecoderBlock, String)? {
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count == 5, parts[0] == "model", parts[1] == "layers", let i = Int(parts[2]), i >= 0, i < blocks.count else { return nil }
        let valid = ModelConfig.projectionPaths.contains(parts[3] + "." + parts[4])
        return valid ? (blocks[i], parts[4]) : nil
    }

    public func linear(named name: String) -> (any LinearLayer)? {
        guard let (b, leaf) = locate(name) else { return nil }
        switch leaf {
        case "q_proj": return b.qProj
        case "k_proj": return b.kProj
        case "v_proj": return b.vProj
        case "o_proj": return b.oProj
        case "gate_proj": return b.mlp.gate
        case "up_proj": return b.mlp.up
        default: return b.mlp.down
        }
    }

    public func setLinear(_ layer: any LinearLayer, named name: String) throws {
        guard let (b, leaf) = locate(name), let old = linear(named: name) else { throw ModelError.unknownSlot(name: name) }
        guard old.inFeatures == layer.inFeatures, old.outFeatures == layer.outFeatures else {
            throw LayerError.badInput(layer: name, expected: "(\(old.outFeatures), \(old.inFeatures))", actual: [layer.outFeatures, layer.inFeatures])
        }
        layer.computePrecision = computePrecision   // a slot's layer computes at the model's precision
        switch leaf {
        case "q_proj": b.qProj = layer
        case "k_proj": b.kProj = layer
        case "v_proj": b.vProj = layer
        case "o_proj": b.oProj = layer
        case "gate_proj": b.mlp.gate = layer
        case "up_proj": b.mlp.up = layer
        default: b.mlp.down = layer
        }
    }

    public var headShape: HeadShape? { config.headShape }

    public var otherParameters: [(name: String, parameter: Parameter)] {
        var out: [(name: String, parameter: Parameter)] = [("model.embed_tokens.weight", embedding.weight)]
        let names = config.family.layerNorms
        for b in blocks {
            let p = "model.layers.\(b.index)."
            out.append((p + names.input, b.inputNorm.weight))
            if let name = names.attentionOutput, let n = b.attentionOutputNorm { out.append((p + name, n.weight)) }
            out.append((p + names.preMLP, b.postAttentionNorm.weight))
            if let name = names.mlpOutput, let n = b.mlpOutputNorm { out.append((p + name, n.weight)) }
            if let n = b.qNorm { out.append((p + "self_attn.q_norm.weight", n.weight)) }
            if let n = b.kNorm { out.append((p + "self_attn.k_norm.weight", n.weight)) }
        }
        out.append(("model.norm.weight", finalNorm.weight))
        if !config.tieWordEmbeddings { out.append(("lm_head.weight", lmHead)) }
        return out
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        let slots = linearSlotNames.flatMap { slot in
            (linear(named: slot)?.parameters ?? []).map { (name: slot + "." + $0.name, parameter: $0.parameter) }
        }
        return otherParameters + slots
    }
}
