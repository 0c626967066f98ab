import Foundation

/// How QFuRA lays its frozen core out for NF4 (Docs/methods.md §9 `quant_block_layout`).
public enum QFuRALayout: String, Codable, Sendable, CaseIterable {
    /// One NF4 tensor over the whole core, flattened row-major (`Params4bit(frozen.reshape(-1, 1))`, the default).
    case flat
    /// One NF4 tensor per outer index of the core (one per output block i for `btt_l`, per input block j for `btt_r`).
    case perCoreBlock = "per_core_block"
}

/// Which packed core of a BTT layer.
public enum CoreSide: String, Codable, Sendable {
    /// `btt_l` (m, r·n, a).
    case left = "btt_l"
    /// `btt_r` (n, b, m·r).
    case right = "btt_r"
}

/// The quantization settings of QFuRA (Docs/methods.md §9–§10): NF4 with blocks of 64, the layout, and whether the
/// absmax values are double-quantized (`compress_statistics`, on in the reference).
public struct QFuRAOptions: Codable, Equatable, Sendable {
    public var layout: QFuRALayout
    public var doubleQuantization: Bool

    public init(layout: QFuRALayout = .flat, doubleQuantization: Bool = true) {
        self.layout = layout
        self.doubleQuantization = doubleQuantization
    }

    enum CodingKeys: String, CodingKey {
        case layout = "quant_block_layout", doubleQuantization = "double_quant"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        if let raw = try c.decodeIfPresent(String.self, forKey: .layout) {
            layout = try Self.parseLayout(raw)
        }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .doubleQuantization) { doubleQuantization = v }
    }

    /// Parses `flat` or `per_core_block` (also `per-core-block`).
    public static func parseLayout(_ text: String) throws -> QFuRALayout {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "-", with: "_")
        guard let v = QFuRALayout(rawValue: t) else {
            throw ConversionError.invalidValue(module: nil, option: "quant_block_layout", value: text, expected: "flat or per_core_block")
        }
        return v
    }
}
