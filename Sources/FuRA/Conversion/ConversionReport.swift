import Foundation

/// What converting one module did.
public struct ModuleConversion: Equatable, Codable, Sendable {
    /// The slot name (`model.layers.0.self_attn.q_proj`).
    public var slot: String
    /// The BTT grid (nil for SVD layers).
    public var geometry: BTTGeometry?
    /// (O, I) of the dense weight.
    public var denseShape: [Int]
    public var trainable: Int
    public var frozen: Int
    /// Bytes of the layer's tensors in `Float`.
    public var storageBytes: Int
    /// ‖W − materialize‖ / ‖W‖, when measured.
    public var reconstructionError: Double?
    /// Wall time of this module's conversion on its thread (modules convert side by side, so the sum over modules
    /// can exceed the wall time of the whole conversion).
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case slot, geometry, trainable, frozen, seconds
        case denseShape = "dense_shape", storageBytes = "storage_bytes", reconstructionError = "reconstruction_error"
    }
}

/// The conversion report of a model: per module and summed per module type (leaf name).
public struct ConversionReport: Equatable, Codable, Sendable {
    public var method: ConversionMethod
    public var modules: [ModuleConversion]

    /// One line per module type.
    public struct TypeSummary: Equatable, Codable, Sendable {
        public var leaf: String
        public var count: Int
        /// The distinct block grids of this type (usually one).
        public var geometries: [BTTGeometry]
        public var denseShape: [Int]
        public var trainable: Int
        public var frozen: Int
        public var storageBytes: Int
        public var maxReconstructionError: Double?
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case leaf, count, geometries, trainable, frozen, seconds
            case denseShape = "dense_shape", storageBytes = "storage_bytes", maxReconstructionError = "max_reconstruction_error"
        }
    }

    /// Summaries in first-seen order of the leaf names.
    public var byType: [TypeSummary] {
        var order: [String] = []
        var table: [String: TypeSummary] = [:]
        for m in modules {
            let leaf = m.slot.split(separator: ".").last.map(String.init) ?? m.slot
            if table[leaf] == nil {
                order.append(leaf)
                table[leaf] = TypeSummary(leaf: leaf, count: 0, geometries: [], denseShape: m.denseShape, trainable: 0, frozen: 0,
                                          storageBytes: 0, maxReconstructionError: nil, seconds: 0)
            }
            var s = table[leaf]!
            s.count += 1
            if let g = m.geometry, !s.geometries.contains(g) { s.geometries.append(g) }
            s.trainable += m.trainable
            s.frozen += m.frozen
            s.storageBytes += m.storageBytes
            if let e = m.reconstructionError { s.maxReconstructionError = max(s.maxReconstructionError ?? 0, e) }
            s.seconds += m.seconds
            table[leaf] = s
        }
        return order.map { table[$0]! }
    }

    public var totalSeconds: Double { modules.reduce(0) { $0 + $1.seconds } }
    public var maxReconstructionError: Double? { modules.compactMap(\.reconstructionError).max() }

    /// A plain-text table, one row per module type.
    public var table: String {
        var lines = ["module       n  dense (O×I)   blocks m×n of a×b, r        trainable      frozen    storage MB   max rel err   seconds"]
        for s in byType {
            let grid = s.geometries.map { "\($0.m)×\($0.n) of \($0.a)×\($0.b), r \($0.r)" }.joined(separator: "; ")
            func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
            let error = s.maxReconstructionError.map { String(format: "%.2e", $0) } ?? "-"
            lines.append(pad(s.leaf, 10) + String(format: " %3d  ", s.count) + pad("\(s.denseShape[0])×\(s.denseShape[1])", 12) + "  "
                         + pad(grid.isEmpty ? "whole-matrix SVD" : grid, 26)
                         + String(format: " %11d %11d %12.2f ", s.trainable, s.frozen, Double(s.storageBytes) / 1_048_576)
                         + pad(error, 13) + String(format: " %9.3f", s.seconds))
        }
        return lines.joined(separator: "\n")
    }
}
