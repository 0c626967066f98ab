import Foundation
import FuRANN
import FuRATensor

/// The projection groups of the reference (`qkv`, `o`, `mlp_upgate`, `mlp_down`) and their leaf names.
public enum ProjectionGroups {
    /// Group → leaf names.
    public static let members: [String: [String]] = [
        "qkv": ["q_proj", "k_proj", "v_proj"], "o": ["o_proj"],
        "mlp_upgate": ["gate_proj", "up_proj"], "mlp_down": ["down_proj"],
    ]
    /// Group aliases of the reference.
    public static let aliases: [String: String] = ["mlp_up_gate": "mlp_upgate", "upgate": "mlp_upgate", "up_gate": "mlp_upgate"]
    /// The 7 projections in the reference's `all` order.
    public static let allLinear = ["gate_proj", "up_proj", "down_proj", "q_proj", "k_proj", "v_proj", "o_proj"]

    /// The canonical group name of `key`, or nil.
    public static func group(_ key: String) -> String? {
        let k = key.trimmingCharacters(in: .whitespaces)
        let canonical = aliases[k] ?? k
        return members[canonical] != nil ? canonical : nil
    }

    /// Parses a dict literal: JSON, or bare words like `{qkv:input,o:output}` (quotes optional, `:` or `=`).
    public static func parseDict(_ text: String, option: String) throws -> [String: String] {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix("{"), t.hasSuffix("}") else {
            throw ConversionError.invalidValue(module: nil, option: option, value: text, expected: "a dict like {qkv:input,o:output}")
        }
        if let data = t.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            return object.mapValues { v in
                if let s = v as? String { return s }
                if let a = v as? [Any] { return a.map { "\($0)" }.joined(separator: ",") }
                return "\(v)"
            }
        }
        // Bare words: split on commas outside quotes and brackets; a piece without a key continues the previous
        // value (so `{mlp_down:8,10}` keeps the pair "8,10").
        var entries: [String] = []
        var depth = 0, current = ""
        var quote: Character?
        for ch in t.dropFirst().dropLast() {
            if let q = quote { if ch == q { quote = nil } } else if ch == "\"" || ch == "'" { quote = ch }
            if quote == nil, ch == "(" || ch == "[" { depth += 1 }
            if quote == nil, ch == ")" || ch == "]" { depth -= 1 }
            if ch == ",", depth == 0, quote == nil { entries.append(current); current = "" } else { current.append(ch) }
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { entries.append(current) }
        var merged: [String] = []
        for entry in entries {
            if entry.contains(":") || entry.contains("=") || merged.isEmpty { merged.append(entry) } else { merged[merged.count - 1] += "," + entry }
        }
        entries = merged
        var out: [String: String] = [:]
        let strip = CharacterSet(charactersIn: "\"' ").union(.whitespaces)
        for entry in entries {
            guard let sep = entry.firstIndex(where: { $0 == ":" || $0 == "=" }) else {
                throw ConversionError.invalidValue(module: nil, option: option, value: text, expected: "key:value entries separated by commas")
            }
            let key = entry[..<sep].trimmingCharacters(in: strip)
            let value = entry[entry.index(after: sep)...].trimmingCharacters(in: strip)
            guard !key.isEmpty, !value.isEmpty else {
                throw ConversionError.invalidValue(module: nil, option: option, value: text, expected: "non-empty keys and values")
            }
            out[key] = value
        }
        return out
    }
}

/// `decomp_mode`: one mode for every module, or a per-group dict (Docs/factorization.md §4).
public enum DecompModeSpec: Equatable, Sendable, Codable, CustomStringConvertible {
    case uniform(DecompMode)
    /// Canonical group name → mode; missing groups use `output_one_block`.
    case perGroup([String: DecompMode])

    /// Parses a mode word, or a JSON / bare-word dict of groups.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("{") {
            try self.init(dict: try ProjectionGroups.parseDict(t, option: "decomp_mode"))
        } else {
            guard let mode = DecompMode(parsing: t) else {
                throw ConversionError.invalidValue(module: nil, option: "decomp_mode", value: text,
                                                   expected: "square, output_one_block, input_one_block (or input, output, input_block, output_block), or a group dict")
            }
            self = .uniform(mode)
        }
    }

    init(dict: [String: String]) throws {
        var groups: [String: DecompMode] = [:]
        for (key, value) in dict {
            guard let group = ProjectionGroups.group(key) else {
                throw ConversionError.invalidValue(module: nil, option: "decomp_mode", value: key,
                                                   expected: "a group key: qkv, o, mlp_upgate (mlp_up_gate, upgate, up_gate), mlp_down")
            }
            guard let mode = DecompMode(parsing: value) else {
                throw ConversionError.invalidValue(module: nil, option: "decomp_mode.\(key)", value: value,
                                                   expected: "square, output_one_block, input_one_block or an alias")
            }
            groups[group] = mode
        }
        self = .perGroup(groups)
    }

    /// The mode of a leaf module.
    public func mode(for leaf: String) -> DecompMode {
        switch self {
        case let .uniform(m): return m
        case let .perGroup(groups):
            let group = ProjectionGroups.members.first { $0.value.contains(leaf) }?.key
            return group.flatMap { groups[$0] } ?? .outputOneBlock
        }
    }

    public var description: String {
        switch self {
        case let .uniform(m): return m.rawValue
        case let .perGroup(g): return "{" + g.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.rawValue)" }.joined(separator: ",") + "}"
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { try self.init(parsing: s); return }
        try self.init(dict: try c.decode([String: String].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .uniform(m): try c.encode(m.rawValue)
        case let .perGroup(g): try c.encode(g.mapValues { $0.rawValue })
        }
    }
}

/// One input factorization choice (Docs/factorization.md §5).
public enum InputFactorizationChoice: Equatable, Sendable, CustomStringConvertible {
    /// (num_heads, head_dim) for q/k/v/o when d_in = num_heads·head_dim, else the closest pair.
    case head
    /// The closest factor pair (also cancels the `factorize_by_head` o_proj override).
    case closest
    /// Explicit (n, b), n·b must equal d_in.
    case pair(Int, Int)

    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "head" { self = .head; return }
        if t == "closest" { self = .closest; return }
        let parts = t.trimmingCharacters(in: CharacterSet(charactersIn: "()[] ")).split(whereSeparator: { $0 == "," || $0 == " " })
        guard parts.count == 2, let n = Int(parts[0]), let b = Int(parts[1]), n > 0, b > 0 else {
            throw ConversionError.invalidValue(module: nil, option: "input_factorization", value: text,
                                               expected: "head, closest, or n,b with positive integers")
        }
        self = .pair(n, b)
    }

    public var description: String {
        switch self {
        case .head: return "head"
        case .closest: return "closest"
        case let .pair(n, b): return "\(n),\(b)"
        }
    }
}

/// `input_factorization`: one choice for all modules, or a dict of group / leaf name → choice.
public enum InputFactorizationSpec: Equatable, Sendable, Codable, CustomStringConvertible {
    case uniform(InputFactorizationChoice)
    /// Leaf name → choice (groups expanded on parse).
    case perModule([String: InputFactorizationChoice])

    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("{") {
            try self.init(dict: try ProjectionGroups.parseDict(t, option: "input_factorization"))
        } else {
            self = .uniform(try InputFactorizationChoice(parsing: t))
        }
    }

    init(dict: [String: String]) throws {
        var out: [String: InputFactorizationChoice] = [:]
        for (key, value) in dict {
            let choice = try InputFactorizationChoice(parsing: value)
            if let group = ProjectionGroups.group(key) {
                for leaf in ProjectionGroups.members[group]! { out[leaf] = choice }
            } else {
                out[key.trimmingCharacters(in: .whitespaces)] = choice
            }
        }
        self = .perModule(out)
    }

    /// The choice for a leaf, or nil (then `factorize_by_head` decides).
    public func choice(for leaf: String) -> InputFactorizationChoice? {
        switch self {
        case let .uniform(c): return c
        case let .perModule(d): return d[leaf]
        }
    }

    public var description: String {
        switch self {
        case let .uniform(c): return c.description
        case let .perModule(d): return "{" + d.sorted { $0.key < $1.key }.map { "\($0.key):\"\($0.value)\"" }.joined(separator: ",") + "}"
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { try self.init(parsing: s); return }
        if let pair = try? c.decode([Int].self) {
            guard pair.count == 2 else {
                throw ConversionError.invalidValue(module: nil, option: "input_factorization", value: "\(pair)", expected: "[n, b]")
            }
            self = .uniform(.pair(pair[0], pair[1]))
            return
        }
        try self.init(dict: try c.decode([String: String].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .uniform(choice): try c.encode(choice.description)
        case let .perModule(d): try c.encode(d.mapValues { $0.description })
        }
    }
}

/// Which adapter a conversion builds.
public enum ConversionMethod: String, Codable, Sendable, CaseIterable {
    /// BTT (Docs/factorization.md).
    case fura
    /// Whole-matrix SVD reparameterization (Docs/methods.md §4).
    case svd
}

/// The options of converting a model to FuRA (BTT) or SVD layers, with the reference's names as JSON keys.
///
/// Defaults are the paper's FuRA configuration: rank full, output_one_block, train_position small,
/// s_merged_to keep_trainable, factorize_by_head, the 7 projections, train biases. For `method: svd` the
/// defaults are the reference baseline recipe: train_position output, s_merged_to frozen.
/// `s_merged_to: null` means the reference's None (split for both, else frozen).
public struct ConversionOptions: Codable, Equatable, Sendable {
    public var method: ConversionMethod = .fura
    public var decompMode: DecompModeSpec = .uniform(.outputOneBlock)
    public var rank: BTTRank = .full
    public var sMergedTo: SMergedTo? = .keepTrainable
    /// `small`/`large`/`both` for fura, `output`/`input`/`both` for svd.
    public var trainPosition: String = TrainPosition.small.rawValue
    public var convertMode: ConvertMode = .svd
    public var inputFactorization: InputFactorizationSpec?
    public var factorizeByHead: Bool = true
    public var normalizeAfterUpdate: Bool = false
    public var trainBias: Bool = true
    /// Leaf names, group names, or `all-linear`/`all`/`mlp`/`attn`.
    public var targetModules: [String] = ["all-linear"]
    /// The precision of the SVDs (`double` or `float`); factors are stored in `Float` either way.
    public var svdPrecision: FactorizationPrecision = .double

    enum CodingKeys: String, CodingKey {
        case method, rank
        case decompMode = "decomp_mode", sMergedTo = "s_merged_to", trainPosition = "train_position"
        case convertMode = "convert_mode", inputFactorization = "input_factorization", factorizeByHead = "factorize_by_head"
        case normalizeAfterUpdate = "normalize_after_update", trainBias = "train_bias", targetModules = "target_modules"
        case svdPrecision = "svd_precision"
    }

    /// The paper's FuRA defaults (or the SVD baseline recipe for `.svd`).
    public init(method: ConversionMethod = .fura) {
        self.method = method
        if method == .svd {
            trainPosition = SVDTrainPosition.output.rawValue
            sMergedTo = .frozen
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(method: try c.decodeIfPresent(ConversionMethod.self, forKey: .method) ?? .fura)
        if let v = try c.decodeIfPresent(DecompModeSpec.self, forKey: .decompMode) { decompMode = v }
        if let v = try c.decodeIfPresent(BTTRank.self, forKey: .rank) { rank = v }
        if c.contains(.sMergedTo) {
            if try c.decodeNil(forKey: .sMergedTo) { sMergedTo = nil } else {
                let raw = try c.decode(String.self, forKey: .sMergedTo)
                guard let v = SMergedTo(rawValue: raw) else {
                    throw ConversionError.invalidValue(module: nil, option: "s_merged_to", value: raw,
                                                       expected: SMergedTo.allCases.map(\.rawValue).joined(separator: ", ") + " or null")
                }
                sMergedTo = v
            }
        }
        if let v = try c.decodeIfPresent(String.self, forKey: .trainPosition) { trainPosition = v }
        if let raw = try c.decodeIfPresent(String.self, forKey: .convertMode) {
            guard let v = ConvertMode(rawValue: raw.lowercased()) else {
                throw ConversionError.invalidValue(module: nil, option: "convert_mode", value: raw, expected: "svd or qr")
            }
            convertMode = v
        }
        inputFactorization = try c.decodeIfPresent(InputFactorizationSpec.self, forKey: .inputFactorization)
        if let v = try c.decodeIfPresent(Bool.self, forKey: .factorizeByHead) { factorizeByHead = v }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .normalizeAfterUpdate) { normalizeAfterUpdate = v }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .trainBias) { trainBias = v }
        if let list = try? c.decodeIfPresent([String].self, forKey: .targetModules) {
            targetModules = list
        } else if let text = try c.decodeIfPresent(String.self, forKey: .targetModules) {
            targetModules = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let v = try c.decodeIfPresent(FactorizationPrecision.self, forKey: .svdPrecision) { svdPrecision = v }
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(decompMode, forKey: .decompMode)
        try c.encode(rank, forKey: .rank)
        if let s = sMergedTo { try c.encode(s, forKey: .sMergedTo) } else { try c.encodeNil(forKey: .sMergedTo) }
        try c.encode(trainPosition, forKey: .trainPosition)
        try c.encode(convertMode, forKey: .convertMode)
        try c.encodeIfPresent(inputFactorization, forKey: .inputFactorization)
        try c.encode(factorizeByHead, forKey: .factorizeByHead)
        try c.encode(normalizeAfterUpdate, forKey: .normalizeAfterUpdate)
        try c.encode(trainBias, forKey: .trainBias)
        try c.encode(targetModules, forKey: .targetModules)
        try c.encode(svdPrecision, forKey: .svdPrecision)
    }

    // MARK: Validation (the one place)

    /// The BTT train position; throws for a value that is not small/large/both.
    public func bttTrainPosition() throws -> TrainPosition {
        guard let p = TrainPosition(rawValue: trainPosition) else {
            throw ConversionError.invalidValue(module: nil, option: "train_position", value: trainPosition,
                                               expected: "small, large or both (method fura)")
        }
        return p
    }

    /// The SVD-layer train position; throws for a value that is not output/input/both.
    public func svdTrainPosition() throws -> SVDTrainPosition {
        guard let p = SVDTrainPosition(rawValue: trainPosition) else {
            throw ConversionError.invalidValue(module: nil, option: "train_position", value: trainPosition,
                                               expected: "output, input or both (method svd)")
        }
        return p
    }

    /// The set of targeted leaf names.
    public func targetLeaves() throws -> Set<String> {
        var out = Set<String>()
        for raw in targetModules {
            let t = raw.trimmingCharacters(in: .whitespaces)
            switch t {
            case "all-linear", "all", "all_linear": out.formUnion(ProjectionGroups.allLinear)
            case "mlp": out.formUnion(["gate_proj", "up_proj", "down_proj"])
            case "attn": out.formUnion(["q_proj", "k_proj", "v_proj", "o_proj"])
            default:
                if let g = ProjectionGroups.group(t) {
                    out.formUnion(ProjectionGroups.members[g]!)
                } else if ProjectionGroups.allLinear.contains(t) {
                    out.insert(t)
                } else {
                    throw ConversionError.invalidValue(module: nil, option: "target_modules", value: t,
                                                       expected: "all-linear, all, mlp, attn, a group (qkv, o, mlp_upgate, mlp_down) or a projection leaf name")
                }
            }
        }
        if out.isEmpty {
            throw ConversionError.invalidValue(module: nil, option: "target_modules", value: "[]", expected: "at least one module")
        }
        return out
    }

    /// Checks every model-independent rule; module-specific rules are checked by `layerOptions`.
    public func validate() throws {
        _ = try targetLeaves()
        try rank.validate()
        switch method {
        case .fura:
            let position = try bttTrainPosition()
            if position == .both, sMergedTo == .frozen || sMergedTo == .trainable {
                throw ConversionError.incompatible(module: nil, option: "s_merged_to", value: sMergedTo!.rawValue,
                                                   reason: "train_position both trains both cores; use output, input, split or keep_*")
            }
            if convertMode == .qr, sMergedTo == .keepFrozen || sMergedTo == .keepTrainable {
                throw ConversionError.incompatible(module: nil, option: "s_merged_to", value: sMergedTo!.rawValue,
                                                   reason: "convert_mode qr has no singular values to keep; use convert_mode svd or another s_merged_to")
            }
        case .svd:
            _ = try svdTrainPosition()
        }
        if case let .uniform(.pair(n, b))? = inputFactorization, n <= 0 || b <= 0 {
            throw ConversionError.factorizationMismatch(module: nil, option: "input_factorization", blocks: n, blockSize: b, features: 0)
        }
    }

    /// The resolved BTT options of one module (Docs/factorization.md §5: `factorize_by_head`, then `input_factorization`).
    ///
    /// - Parameters: `slot` is the full slot name, `headShape` the model's heads (nil: no head rules).
    public func layerOptions(slot: String, inFeatures: Int, outFeatures: Int, headShape: HeadShape?) throws -> BTTLayerOptions {
        let leaf = slot.leafName
        var out = BTTLayerOptions(decompMode: decompMode.mode(for: leaf), rank: rank, sMergedTo: sMergedTo,
                                  trainPosition: try bttTrainPosition(), convertMode: convertMode, trainBias: trainBias,
                                  precision: svdPrecision)
        var headInput: FactorPair?
        if let h = headShape, h.numHeads > 0, h.headDim > 0 {
            if factorizeByHead {
                switch leaf {
                case "q_proj": out.outputFactorization = FactorPair(h.numHeads, h.headDim)
                case "k_proj", "v_proj": out.outputFactorization = FactorPair(h.numKeyValueHeads, h.headDim)
                case "o_proj": out.inputFactorization = FactorPair(h.numHeads, h.headDim)
                default: break
                }
            }
            if ["q_proj", "k_proj", "v_proj", "o_proj"].contains(leaf), inFeatures == h.numHeads * h.headDim {
                headInput = FactorPair(h.numHeads, h.headDim)
            }
        }
        if let choice = inputFactorization?.choice(for: leaf) {
            switch choice {
            case .closest: out.inputFactorization = nil
            case .head: out.inputFactorization = headInput
            case let .pair(n, b):
                guard n > 0, b > 0, n * b == inFeatures else {
                    throw ConversionError.factorizationMismatch(module: slot, option: "input_factorization", blocks: n, blockSize: b,
                                                                features: inFeatures)
                }
                out.inputFactorization = FactorPair(n, b)
            }
        }
        if let f = out.outputFactorization, f.blocks * f.size != outFeatures {
            throw ConversionError.factorizationMismatch(module: slot, option: "output_factorization (factorize_by_head)",
                                                        blocks: f.blocks, blockSize: f.size, features: outFeatures)
        }
        if let f = out.inputFactorization, f.blocks * f.size != inFeatures {
            throw ConversionError.factorizationMismatch(module: slot, option: "input_factorization (factorize_by_head)",
                                                        blocks: f.blocks, blockSize: f.size, features: inFeatures)
        }
        return out
    }
}
