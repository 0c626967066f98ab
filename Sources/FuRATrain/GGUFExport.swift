import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor

/// Writes a (possibly adapted) model as a llama.cpp GGUF: `<arch>.*` metadata, the tokenizer metadata, llama.cpp
/// tensor names, and what llama.cpp's converter does to the family's tensors (q/k row permutation, norm offset),
/// re-applied (the loader undoes it).
public enum GGUFExport {
    /// The matrix types `write` takes.
    public static let matrixTypes: [GGMLType] = [.f32, .f16, .q8_0, .q4_0, .q4_K]

    /// Writes `model` to `path` with matrices as `type` (see `tensorType`). `tokenizer` is the source GGUF's
    /// `tokenizer.*` metadata or one built from `tokenizer.json`; nil writes none.
    public static func write(_ model: CausalLM, tokenizer: [String: GGUFValue]?, name: String, type: GGMLType, to path: String) throws {
        guard matrixTypes.contains(type) else {
            throw GGUFError.cannotWrite(path: path, reason: "tensor type \(type) cannot be written (use f32, f16, q8_0, q4_0 or q4_K)")
        }
        let c = model.config
        let family = c.family
        let arch = family.ggufArchitecture
        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(arch)), ("general.name", .string(name)),
            (arch + ".context_length", .uint32(UInt32(c.maxPositionEmbeddings))),
            (arch + ".embedding_length", .uint32(UInt32(c.hiddenSize))),
            (arch + ".feed_forward_length", .uint32(UInt32(c.intermediateSize))),
            (arch + ".block_count", .uint32(UInt32(c.numHiddenLayers))),
            (arch + ".attention.head_count", .uint32(UInt32(c.numAttentionHeads))),
            (arch + ".attention.head_count_kv", .uint32(UInt32(c.numKeyValueHeads))),
            (arch + ".attention.key_length", .uint32(UInt32(c.headDim))),
            (arch + ".attention.value_length", .uint32(UInt32(c.headDim))),
            (arch + ".attention.layer_norm_rms_epsilon", .float32(Float(c.rmsNormEps))),
            (arch + ".rope.freq_base", .float32(Float(c.ropeTheta))),
            (arch + ".rope.dimension_count", .uint32(UInt32(c.headDim))),
            (arch + ".vocab_size", .uint32(UInt32(c.vocabSize))),
        ]
        if let s = c.ropeScaling {
            metadata.append((arch + ".rope.scaling.type", .string(s.ropeType)))
            metadata.append((arch + ".rope.scaling.factor", .float32(Float(s.factor))))
            if let o = s.originalMaxPositionEmbeddings { metadata.append((arch + ".rope.scaling.original_context_length", .uint32(UInt32(o)))) }
        }
        if let w = c.slidingWindow, family.defaultSlidingWindowPattern != nil || family.slidingWindowOnEveryLayer {
            metadata.append((arch + ".attention.sliding_window", .uint32(UInt32(w))))
        }
        for key in (tokenizer ?? [:]).keys.sorted() { metadata.append((key, tokenizer![key]!)) }
        var tensors = [(name: String, tensor: Tensor, type: GGMLType)]()
        for (hf, value) in try MergedModel.denseTensors(model) {
            guard let gguf = family.ggufName(ofHF: hf) else {
                throw GGUFError.cannotWrite(path: path, reason: "tensor \(hf) has no llama.cpp name")
            }
            var t = value
            if let heads = family.permutedHeads(ofHF: hf, config: c) { t = try GGUFWeightMap.permuteRows(t, heads: heads) }
            if family.ggufNormOffset != 0 && ModelFamily.isNormWeight(hf) {
                for i in 0..<t.count { t.storage[i] += family.ggufNormOffset }
            }
            tensors.append((gguf, t, tensorType(requested: type, shape: t.shape, ggufName: gguf)))
        }
        try GGUFWriter().write(metadata: metadata, tensors: tensors, to: path)
    }

    /// The type a tensor is written as: vectors stay f32; with a 4-bit request, the embedding and output matrices are
    /// q8_0 (llama.cpp keeps them at more bits too, q6_K in its Q4_K_M) and q4_K rows that are not a multiple of 256
    /// (SmolLM2's 576-wide projections) fall back to q4_0, as llama.cpp falls back for such rows; a quantized type
    /// whose block does not divide the rows falls back to f16.
    public static func tensorType(requested: GGMLType, shape: [Int], ggufName: String) -> GGMLType {
        guard shape.count == 2 else { return .f32 }
        var type = requested
        if type == .q4_0 || type == .q4_K, ggufName.hasPrefix("token_embd") || ggufName.hasPrefix("output.") { type = .q8_0 }
        if type == .q4_K, shape[1] % 256 != 0 { type = .q4_0 }
        if type != .f32, type != .f16, shape[1] % type.blockGeometry.elements != 0 { type = .f16 }
        return type
    }

    /// `tokenizer.*` metadata of a SentencePiece vocabulary (Gemma) as llama.cpp's `llama` model: scores fall with
    /// the token position, which is the merge order of such vocabularies (see `SentencePieceBPE`); types mark
    /// control (special), user-defined (other added) and byte tokens.
    static func sentencePieceMetadata(_ tokenizer: Tokenizer) -> [String: GGUFValue] {
        let types = tokenizer.tokens.enumerated().map { id, token -> GGUFValue in
            if tokenizer.specialTokenIds.contains(id) { return .int32(3) }
            if tokenizer.addedTokenIds.contains(id) { return .int32(4) }
            let isByte = token.count == 6 && token.hasPrefix("<0x") && token.hasSuffix(">")
            return .int32(isByte ? 6 : 1)
        }
        var out: [String: GGUFValue] = [
            "tokenizer.ggml.model": .string("llama"), "tokenizer.ggml.pre": .string("default"),
            "tokenizer.ggml.tokens": .array(tokenizer.tokens.map { .string($0) }), "tokenizer.ggml.token_type": .array(types),
            "tokenizer.ggml.scores": .array(tokenizer.tokens.indices.map { .float32(-Float($0)) }),
            "tokenizer.ggml.add_bos_token": .bool(tokenizer.addsBOSByDefault), "tokenizer.ggml.add_space_prefix": .bool(false),
        ]
        if let v = tokenizer.bosId { out["tokenizer.ggml.bos_token_id"] = .uint32(UInt32(v)) }
        if let v = tokenizer.eosId { out["tokenizer.ggml.eos_token_id"] = .uint32(UInt32(v)) }
        if let v = tokenizer.padId { out["tokenizer.ggml.padding_token_id"] = .uint32(UInt32(v)) }
        if let v = tokenizer.unknownId { out["tokenizer.ggml.unknown_token_id"] = .uint32(UInt32(v)) }
        return out
    }

    /// The `tokenizer.*` metadata of a GGUF file.
    public static func tokenizerMetadata(of file: GGUFFile) -> [String: GGUFValue] {
        file.metadata.filter { $0.key.hasPrefix("tokenizer.") }
    }

    /// `tokenizer.*` metadata built from an HF directory's `tokenizer.json` (and the loaded tokenizer's ids).
    public static func tokenizerMetadata(tokenizerJSON path: String, tokenizer: Tokenizer) throws -> [String: GGUFValue] {
        guard let data = FileManager.default.contents(atPath: path),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw TokenizerError.missingField(source: path, field: "model")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        let configData = FileManager.default.contents(atPath: directory.appendingPathComponent("tokenizer_config.json").path)
        let config = configData.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        let template = ChatTemplate.templateString(directory: directory.path, tokenizerConfig: config)
        if tokenizer.isSentencePiece {
            var out = sentencePieceMetadata(tokenizer)
            if let template { out["tokenizer.chat_template"] = .string(template) }
            return out
        }
        var merges = [String]()
        for m in model["merges"] as? [Any] ?? [] {
            if let s = m as? String { merges.append(s) } else if let p = m as? [String], p.count == 2 { merges.append(p[0] + " " + p[1]) }
        }
        let pre = tokenizer.preTokenizer.ggmlName
        let types = (0..<tokenizer.tokens.count).map { id -> GGUFValue in
            .int32(tokenizer.specialTokenIds.contains(id) ? 3 : tokenizer.addedTokenIds.contains(id) ? 4 : 1)
        }
        var out: [String: GGUFValue] = [
            "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string(pre),
            "tokenizer.ggml.tokens": .array(tokenizer.tokens.map { .string($0) }), "tokenizer.ggml.token_type": .array(types),
            "tokenizer.ggml.merges": .array(merges.map { .string($0) }), "tokenizer.ggml.add_bos_token": .bool(tokenizer.addsBOSByDefault),
        ]
        if let v = tokenizer.bosId { out["tokenizer.ggml.bos_token_id"] = .uint32(UInt32(v)) }
        if let v = tokenizer.eosId { out["tokenizer.ggml.eos_token_id"] = .uint32(UInt32(v)) }
        if let v = tokenizer.padId { out["tokenizer.ggml.padding_token_id"] = .uint32(UInt32(v)) }
        if let template { out["tokenizer.chat_template"] = .string(template) }
        return out
    }
}
