import FuRATensor

// Legend: C model dim, H query heads, G key/value heads, D head dim, F intermediate dim.

/// Fused projections (Phi-3): the checkpoint stores `qkv_proj` (H·D + 2·G·D, C) and `gate_up_proj`
/// (2F, C); the model holds separate q/k/v and gate/up Linear slots, so that every part is converted
/// and trained on its own. The loader splits at load (`splittingFused`), merge and export re-fuse
/// (`fusingProjections`).
extension ModelFamily {
    /// One fused checkpoint tensor and the separate parts it stacks (rows in this order), names after `model.layers.N.`.
    public struct FusedGroup: Sendable {
        public var fused: String
        public var parts: [String]
    }

    /// The fused groups of this family's checkpoint (empty for the separate layout).
    public var fusedGroups: [FusedGroup] {
        guard projectionLayout == .fused else { return [] }
        return [FusedGroup(fused: "self_attn.qkv_proj", parts: ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]),
                FusedGroup(fused: "mlp.gate_up_proj", parts: ["mlp.gate_proj", "mlp.up_proj"])]
    }

    /// Rows of each part of `group` under `config`: (H·D, G·D, G·D) or (F, F).
    func partRows(_ group: FusedGroup, config: ModelConfig) -> [Int] {
        let projections = config.layerProjections
        return group.parts.map { part in projections.first { $0.path == part }?.rows ?? 0 }
    }

    /// (layer, group, part index, suffix) of a separate-part HF name such as `model.layers.2.self_attn.k_proj.weight`.
    func locatePart(_ name: String) -> (layer: String, group: FusedGroup, index: Int, suffix: String)? {
        for group in fusedGroups {
            for (index, part) in group.parts.enumerated() {
                for suffix in [".weight", ".bias"] where name.hasSuffix("." + part + suffix) {
                    return (String(name.dropLast(part.count + suffix.count)), group, index, suffix)
                }
            }
        }
        return nil
    }

    /// Wraps a checkpoint reader (HF names as stored) into one that also answers the separate part names,
    /// slicing the rows of the fused tensor. Identity for the separate layout.
    public func splittingFused(_ stored: @escaping (String) throws -> Tensor?, config: ModelConfig) -> (String) throws -> Tensor? {
        guard projectionLayout == .fused else { return stored }
        return { name in
            guard let (layer, group, index, suffix) = self.locatePart(name) else { return try stored(name) }
            let fusedName = layer + group.fused + suffix
            guard let fused = try stored(fusedName) else { return nil }
            let rows = self.partRows(group, config: config), total = rows.reduce(0, +)
            guard fused.shape.first == total else {
                throw ModelError.shapeMismatch(source: "checkpoint", tensor: fusedName, expected: [total] + fused.shape.dropFirst(), actual: fused.shape)
            }
            let width = fused.count / total, start = rows.prefix(index).reduce(0, +)
            return try Tensor(shape: [rows[index]] + fused.shape.dropFirst(),
                              data: Array(fused.storage[(start * width)..<((start + rows[index]) * width)]))
        }
    }

    /// Named tensors with separate part names → the checkpoint's layout: each group's parts replaced by
    /// their row-stack under the fused name (at the first part's place). Identity for the separate layout.
    public func fusingProjections(_ tensors: [(String, Tensor)]) throws -> [(String, Tensor)] {
        guard projectionLayout == .fused else { return tensors }
        var parts: [String: [Int: Tensor]] = [:]
        for (name, t) in tensors {
            if let (layer, group, index, suffix) = locatePart(name) { parts[layer + group.fused + suffix, default: [:]][index] = t }
        }
        var out: [(String, Tensor)] = []
        for (name, t) in tensors {
            guard let (layer, group, index, suffix) = locatePart(name) else { out.append((name, t)); continue }
            guard index == 0 else { continue }
            let fusedName = layer + group.fused + suffix
            let pieces = (0..<group.parts.count).compactMap { parts[fusedName]?[$0] }
            guard pieces.count == group.parts.count, pieces.allSatisfy({ Array($0.shape.dropFirst()) == Array(t.shape.dropFirst()) }) else {
                throw ModelError.missingTensor(source: "model", tensor: "every part of \(fusedName) (\(group.parts.joined(separator: ", ")))")
            }
            out.append((fusedName, try Tensor(shape: [pieces.reduce(0) { $0 + $1.shape[0] }] + t.shape.dropFirst(),
                                              data: pieces.flatMap(\.storage))))
        }
        return out
    }
}
