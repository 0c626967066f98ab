import FuRANN
import FuRATensor

/// The LoRA settings of one adapted layer, with PEFT's `LoraConfig` names as coding keys.
public struct LoRAOptions: Codable, Equatable, Sendable {
    /// r: the rank of the update B·A.
    public var rank: Int
    /// α (`lora_alpha`).
    public var alpha: Float
    /// Dropout probability on the LoRA path's input during training (`lora_dropout`).
    public var dropout: Float
    /// Scale by α/√r instead of α/r (`use_rslora`).
    public var useRSLoRA: Bool

    enum CodingKeys: String, CodingKey {
        case rank = "r", alpha = "lora_alpha", dropout = "lora_dropout", useRSLoRA = "use_rslora"
    }

    /// PEFT's defaults: r = 8, α = 8, no dropout, plain scaling.
    public init(rank: Int = 8, alpha: Float = 8, dropout: Float = 0, useRSLoRA: Bool = false) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.useRSLoRA = useRSLoRA
    }

    /// s = α/r, or α/√r with rsLoRA.
    public var scaling: Float { useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }

    /// Throws `LayerError.invalidOption` for r ≤ 0, a non-finite α, or dropout outside [0, 1).
    public func validate(layer: String) throws {
        guard rank > 0 else {
            throw LayerError.invalidOption(layer: layer, option: "r", value: "\(rank)", reason: "the LoRA rank must be a positive integer")
        }
        guard alpha.isFinite else {
            throw LayerError.invalidOption(layer: layer, option: "lora_alpha", value: "\(alpha)", reason: "must be a finite number")
        }
        guard dropout >= 0, dropout < 1 else {
            throw LayerError.invalidOption(layer: layer, option: "lora_dropout", value: "\(dropout)", reason: "must be in [0, 1)")
        }
    }
}

/// Pieces shared by LoRA and DoRA: PEFT's initialization and the inverted dropout of the LoRA input.
enum LoRAPieces {
    /// A rank above the larger side of the (O, I) weight adds no freedom; refusing it before A and B are allocated
    /// keeps `--lora-rank 1000000` from asking for gigabytes per layer.
    static func checkRank(_ rank: Int, rows: Int, columns: Int, layer: String) throws {
        guard rank <= max(rows, columns) else {
            throw LayerError.invalidOption(layer: layer, option: "lora_rank", value: "\(rank)",
                                           reason: "is larger than the \(rows)×\(columns) weight it adapts; use at most \(max(rows, columns))")
        }
    }

    /// `lora_A` (r, I) as PEFT initializes it: `kaiming_uniform_(a=√5)`, i.e. U(−1/√I, 1/√I).
    static func initialA(rank: Int, inFeatures: Int, rng: inout RNG) -> Tensor {
        // gain = √(2/(1+a²)) = √(1/3); bound = gain·√(3/fan_in) = 1/√fan_in.
        let bound = 1 / Float(inFeatures).squareRoot()
        return Tensor.randomUniform([rank, inFeatures], low: -bound, high: bound, rng: &rng)
    }

    /// Inverted dropout mask for N·I elements: 0 with probability p, else 1/(1−p).
    static func dropoutMask(count: Int, probability p: Float, rng: inout RNG) -> [Float] {
        let keep = 1 / (1 - p)
        return (0..<count).map { _ in rng.uniform() < p ? 0 : keep }
    }

    /// Checks that `tensor` has `shape`, naming the PEFT key in the error.
    static func requireShape(_ tensor: Tensor, _ shape: [Int], key: String, layer: String) throws {
        guard tensor.shape == shape else {
            throw LayerError.badInput(layer: "\(layer) \(key)", expected: "\(shape)", actual: tensor.shape)
        }
    }
}

extension Tensor {
    /// Multiplies every column j of a (rows, C) tensor by `scale[j]`; scale: (C,).
    func scalingColumns(by scale: Tensor) -> Tensor {
        var out = self
        let c = scale.count
        guard c > 0 else { return out }
        for r in 0..<(count / c) { for j in 0..<c { out.storage[r * c + j] *= scale.storage[j] } }
        return out
    }
}
