import Foundation

/// How a weight matrix is cut into blocks (Docs/factorization.md §4).
public enum DecompMode: String, Codable, Sendable, CaseIterable {
    /// m × n grid from the closest factor pairs of both dimensions.
    case square
    /// m = 1, a = d_out: one output block, n input blocks (the paper default).
    case outputOneBlock = "output_one_block"
    /// n = 1, b = d_in: one input block, m output blocks.
    case inputOneBlock = "input_one_block"

    /// Parses a mode or one of the reference's aliases (`input`, `output`, `input_block`, `output_block`).
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch t {
        case "input", "input_block": self = .inputOneBlock
        case "output", "output_block": self = .outputOneBlock
        default:
            guard let mode = DecompMode(rawValue: t) else { return nil }
            self = mode
        }
    }
}

/// The per-block rank (Docs/factorization.md §6).
public enum BTTRank: Equatable, Sendable, Codable, CustomStringConvertible {
    /// r = min(a, b): lossless.
    case full
    /// A fixed r > 0 (slots beyond min(a, b) stay zero).
    case fixed(Int)
    /// A fraction in (0, 1) of the dense parameter count.
    case fraction(Double)

    /// Parses `full`, a positive integer or a float in (0, 1).
    public init(parsing text: String, module: String? = nil) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "full" { self = .full; return }
        if let i = Int(t) { self = .fixed(i) } else if let d = Double(t) { self = .fraction(d) } else {
            throw ConversionError.invalidValue(module: module, option: "rank", value: text,
                                               expected: "\"full\", a positive integer, or a float in (0, 1)")
        }
        try validate(module: module)
    }

    /// Throws unless the value is allowed.
    public func validate(module: String? = nil) throws {
        switch self {
        case .full: return
        case let .fixed(r) where r <= 0:
            throw ConversionError.invalidValue(module: module, option: "rank", value: "\(r)", expected: "a positive integer")
        case let .fraction(f) where !(f > 0 && f < 1):
            throw ConversionError.invalidValue(module: module, option: "rank", value: "\(f)", expected: "a float in (0, 1)")
        default: return
        }
    }

    public var description: String {
        switch self {
        case .full: return "full"
        case let .fixed(r): return "\(r)"
        case let .fraction(f): return "\(f)"
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = try BTTRank(parsing: s); return }
        if let i = try? c.decode(Int.self) { self = .fixed(i); try validate(); return }
        let d = try c.decode(Double.self)
        self = .fraction(d)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .full: try c.encode("full")
        case let .fixed(r): try c.encode(r)
        case let .fraction(f): try c.encode(f)
        }
    }
}

/// Where the singular values go (Docs/factorization.md §8; for the SVD layer Docs/methods.md §4).
public enum SMergedTo: String, Codable, Sendable, CaseIterable {
    /// Into the frozen core (an alias resolved from the trainable side).
    case frozen
    /// Into the trainable core (an alias resolved from the trainable side).
    case trainable
    /// Into the output (left, U) core.
    case output
    /// Into the input (right, Vᵀ) core.
    case input
    /// √S into each core.
    case split
    /// A separate frozen `btt_s`.
    case keepFrozen = "keep_frozen"
    /// A separate trainable `btt_s` (the paper default).
    case keepTrainable = "keep_trainable"
}

/// Which BTT core trains (Docs/factorization.md §9).
public enum TrainPosition: String, Codable, Sendable, CaseIterable {
    case small, large, both
}

/// Which SVD-layer factor trains (Docs/methods.md §4).
public enum SVDTrainPosition: String, Codable, Sendable, CaseIterable {
    case output, input, both
}

/// How each block is factored (Docs/factorization.md §7).
public enum ConvertMode: String, Codable, Sendable, CaseIterable {
    case svd, qr
}

/// Where an option's merged S finally lands, after the aliases are resolved.
public enum MergeTarget: String, Codable, Sendable {
    case output, input, split, keepFrozen = "keep_frozen", keepTrainable = "keep_trainable"
    /// No singular values (QR conversion).
    case none

    /// Whether a separate S tensor is kept.
    public var keepsSingularValues: Bool { self == .keepFrozen || self == .keepTrainable }
}

/// Errors from bad FuRA / SVD options or from converting a model; each names the module, option and value.
public enum ConversionError: Error, CustomStringConvertible, Equatable {
    /// An option has a value outside its domain.
    case invalidValue(module: String?, option: String, value: String, expected: String)
    /// Two options (or an option and the model) do not go together.
    case incompatible(module: String?, option: String, value: String, reason: String)
    /// A factorization (n, b) does not multiply to the feature count.
    case factorizationMismatch(module: String?, option: String, blocks: Int, blockSize: Int, features: Int)
    /// A weight holds NaN or infinity.
    case nonFiniteWeight(module: String, count: Int)
    /// A tensor has the wrong shape.
    case shapeMismatch(module: String, tensor: String, expected: [Int], actual: [Int])
    /// A named slot does not exist in the host.
    case unknownSlot(module: String)
    /// A slot does not hold the kind of layer the operation needs.
    case wrongLayerType(module: String, expected: String, actual: String)

    public var description: String {
        func where_(_ m: String?) -> String { m.map { "\($0): " } ?? "" }
        switch self {
        case let .invalidValue(m, option, value, expected):
            return "\(where_(m))invalid \(option) = \(value); expected \(expected)"
        case let .incompatible(m, option, value, reason):
            return "\(where_(m))\(option) = \(value) is not allowed: \(reason)"
        case let .factorizationMismatch(m, option, n, b, features):
            return "\(where_(m))\(option) = (\(n), \(b)) gives n·b = \(n * b), but the layer has \(features) features; choose n, b with n·b = \(features)"
        case let .nonFiniteWeight(m, count):
            return "\(m): the weight has \(count) non-finite entries (NaN or ±inf); fix the checkpoint before converting"
        case let .shapeMismatch(m, tensor, expected, actual):
            return "\(m): \(tensor) must have shape \(expected), got \(actual)"
        case let .unknownSlot(m):
            return "\(m): no such linear slot in the model"
        case let .wrongLayerType(m, expected, actual):
            return "\(m): expected a \(expected) layer, found \(actual)"
        }
    }
}
