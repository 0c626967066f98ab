// Legend: m output blocks of size a (d_out = m·a), n input blocks of size b (d_in = n·b), r rank per block.

/// The closest factor pair of `d` (Docs/factorization.md §3): among divisors x ≤ √d, the one with the smallest
/// |d/x − x| (the first such on ties); returns (x, d/x), the smaller first. (1, d) for a prime d.
public func closestFactorPair(_ d: Int) -> (Int, Int) {
    precondition(d > 0, "closestFactorPair needs a positive integer")
    var root = Int(Double(d).squareRoot())
    while root * root > d { root -= 1 }
    while (root + 1) * (root + 1) <= d { root += 1 }
    var best = (1, d)
    var bestDiff = d - 1
    if root >= 1 {
        for x in 1...root where d % x == 0 {
            let diff = abs(d / x - x)
            if diff < bestDiff { best = (x, d / x); bestDiff = diff }
        }
    }
    return best
}

/// The block structure of one BTT layer: an m × n grid of a × b blocks with rank r (Docs/factorization.md §2, §1.3, §1.5).
public struct BTTGeometry: Equatable, Codable, Sendable, CustomStringConvertible {
    public var m: Int, a: Int, n: Int, b: Int, r: Int

    public init(m: Int, a: Int, n: Int, b: Int, r: Int) {
        self.m = m; self.a = a; self.n = n; self.b = b; self.r = r
    }

    /// d_in = n·b.
    public var inFeatures: Int { n * b }
    /// d_out = m·a.
    public var outFeatures: Int { m * a }
    /// The number of SVD components actually filled per block: min(r, a, b).
    public var usedRank: Int { min(r, min(a, b)) }
    /// Elements of `btt_l` (m, r·n, a).
    public var leftCount: Int { m * n * r * a }
    /// Elements of `btt_r` (n, b, m·r).
    public var rightCount: Int { m * n * r * b }
    /// Elements of `btt_s` (m, n, r).
    public var singularCount: Int { m * n * r }
    /// `btt_l` shape.
    public var leftShape: [Int] { [m, r * n, a] }
    /// `btt_r` shape.
    public var rightShape: [Int] { [n, b, m * r] }
    /// `btt_s` shape.
    public var singularShape: [Int] { [m, n, r] }

    public var description: String { "blocks \(m)×\(n) of \(a)×\(b), rank \(r)" }

    /// Resolves the grid and rank of a layer (Docs/factorization.md §4, §1.5).
    ///
    /// - Parameters: `outputFactorization` / `inputFactorization` are (blocks, block size) pairs that must
    ///   multiply to d_out / d_in; nil means the closest factor pair.
    public static func resolve(
        inFeatures: Int, outFeatures: Int, decompMode: DecompMode, rank: BTTRank,
        outputFactorization: (Int, Int)? = nil, inputFactorization: (Int, Int)? = nil, module: String? = nil
    ) throws -> BTTGeometry {
        guard inFeatures > 0, outFeatures > 0 else {
            throw ConversionError.invalidValue(module: module, option: "shape", value: "\(outFeatures)×\(inFeatures)",
                                               expected: "positive feature counts")
        }
        let (outBlocks, outSize) = try checkedPair(outputFactorization, features: outFeatures,
                                                   option: "output_factorization", module: module)
        let (inBlocks, inSize) = try checkedPair(inputFactorization, features: inFeatures,
                                                 option: "input_factorization", module: module)
        var g: BTTGeometry
        switch decompMode {
        case .square: g = BTTGeometry(m: outBlocks, a: outSize, n: inBlocks, b: inSize, r: 0)
        case .outputOneBlock: g = BTTGeometry(m: 1, a: outFeatures, n: inBlocks, b: inSize, r: 0)
        case .inputOneBlock: g = BTTGeometry(m: outBlocks, a: outSize, n: 1, b: inFeatures, r: 0)
        }
        try rank.validate(module: module)
        g.r = resolveRank(rank, m: g.m, a: g.a, n: g.n, b: g.b)
        return g
    }

    /// r from the rank option (Docs/factorization.md §6): full ⇒ min(a, b); int ⇒ itself; fraction ⇒ the r whose
    /// m·n·r·(a+b) is closest to fraction·d_out·d_in (ties to the lower r).
    public static func resolveRank(_ rank: BTTRank, m: Int, a: Int, n: Int, b: Int) -> Int {
        switch rank {
        case .full: return min(a, b)
        case let .fixed(r): return r
        case let .fraction(f):
            let target = f * Double(m * a) * Double(n * b)
            let perRank = Double(m * n * (a + b))
            let approx = target / perRank
            let low = max(1, Int(approx.rounded(.down)))
            let high = max(1, Int(approx.rounded(.up)))
            let lowError = abs(Double(low) * perRank - target)
            let highError = abs(Double(high) * perRank - target)
            return lowError <= highError ? low : high
        }
    }

    private static func checkedPair(_ pair: (Int, Int)?, features: Int, option: String, module: String?) throws -> (Int, Int) {
        guard let (blocks, size) = pair else { return closestFactorPair(features) }
        guard blocks > 0, size > 0, blocks * size == features else {
            throw ConversionError.factorizationMismatch(module: module, option: option, blocks: blocks, blockSize: size,
                                                        features: features)
        }
        return (blocks, size)
    }

    /// Which cores train (Docs/factorization.md §9), from the element counts: `small` trains the smaller core,
    /// `large` the larger, both tie-break to the left core; `both` trains both.
    public func trainableSides(_ position: TrainPosition) -> (left: Bool, right: Bool) {
        switch position {
        case .both: return (true, true)
        case .small:
            let left = leftCount <= rightCount
            return (left, !left)
        case .large:
            let left = leftCount >= rightCount
            return (left, !left)
        }
    }

    /// Resolves `s_merged_to` to the place S goes (Docs/factorization.md §8).
    ///
    /// nil ⇒ `split` for `both`, else `frozen`; `trainable` ⇒ the trainable core; `frozen` ⇒ the frozen core;
    /// `frozen`/`trainable` with `both` is an error; QR conversion has no S (keep_* is an error there).
    public func mergeTarget(_ option: SMergedTo?, trainPosition: TrainPosition, convertMode: ConvertMode = .svd,
                            module: String? = nil) throws -> MergeTarget {
        if convertMode == .qr {
            if option == .keepFrozen || option == .keepTrainable {
                throw ConversionError.incompatible(module: module, option: "s_merged_to", value: option!.rawValue,
                                                   reason: "convert_mode qr has no singular values to keep; use convert_mode svd or another s_merged_to")
            }
            return .none
        }
        let chosen = option ?? (trainPosition == .both ? .split : .frozen)
        switch chosen {
        case .output: return .output
        case .input: return .input
        case .split: return .split
        case .keepFrozen: return .keepFrozen
        case .keepTrainable: return .keepTrainable
        case .frozen, .trainable:
            let sides = trainableSides(trainPosition)
            if sides.left && sides.right {
                throw ConversionError.incompatible(module: module, option: "s_merged_to", value: chosen.rawValue,
                                                   reason: "train_position both trains both cores; use output, input, split or keep_*")
            }
            if chosen == .trainable { return sides.left ? .output : .input }
            return sides.left ? .input : .output
        }
    }
}
