import Foundation
import FuRAFormats
import FuRANN
import FuRATensor

/// LLaVA's multimodal projector from vision features (patches, vision width) to the language model's width:
/// `linear` (one Linear) or `mlp2x_gelu` (Linear → GELU → Linear, GELU the exact erf form of `nn.GELU()`). It trains;
/// it is saved as `mm_projector.safetensors` with LLaVA's tensor names.
public final class Projector {
    public enum Kind: String, CaseIterable, Sendable {
        case linear
        case mlp2xGELU = "mlp2x_gelu"
    }

    public let kind: Kind
    public let layers: [DenseLinear]
    private var hidden: Tensor?  // the first Linear's output (mlp2x_gelu), kept for backward

    /// A projector initialized as PyTorch's `nn.Linear`: weights and biases U(−1/√in, 1/√in), from `seed`.
    public convenience init(kind: Kind, visionWidth: Int, textWidth: Int, seed: UInt64) throws {
        guard visionWidth > 0, textWidth > 0, visionWidth <= 1 << 16, textWidth <= 1 << 16 else {
            throw LayerError.invalidOption(layer: "Projector", option: "width", value: "\(visionWidth)→\(textWidth)", reason: "must be in 1…65536")
        }
        var rng = RNG(seed: seed)
        func linear(_ inputs: Int, _ outputs: Int) throws -> DenseLinear {
            let bound = 1 / Float(inputs).squareRoot()
            return try DenseLinear(weight: Tensor.randomUniform([outputs, inputs], low: -bound, high: bound, rng: &rng),
                                   bias: Tensor.randomUniform([outputs], low: -bound, high: bound, rng: &rng))
        }
        let layers = kind == .linear ? [try linear(visionWidth, textWidth)]
            : [try linear(visionWidth, textWidth), try linear(textWidth, textWidth)]
        try self.init(kind: kind, layers: layers)
    }

    public init(kind: Kind, layers: [DenseLinear]) throws {
        guard layers.count == (kind == .linear ? 1 : 2), layers.allSatisfy({ $0.bias != nil }),
              kind == .linear || layers[0].outFeatures == layers[1].inFeatures else {
            throw LayerError.invalidOption(layer: "Projector", option: "mm_projector_type", value: kind.rawValue,
                                           reason: "needs \(kind == .linear ? "one Linear" : "two chained Linears") with biases")
        }
        self.kind = kind
        self.layers = layers
        for layer in layers { for (_, p) in layer.parameters { p.trainable = true } }
    }

    /// The vision width it reads.
    public var inputWidth: Int { layers[0].inFeatures }
    /// The language model width it writes.
    public var outputWidth: Int { layers[layers.count - 1].outFeatures }

    /// (…, vision width) → (…, text width).
    public func forward(_ x: Tensor, keepForBackward: Bool) throws -> Tensor {
        let first = try layers[0].forward(x, keepForBackward: keepForBackward)
        guard kind == .mlp2xGELU else { return first }
        hidden = keepForBackward ? first : nil
        return try layers[1].forward(ErfGELU.forward(first), keepForBackward: keepForBackward)
    }

    /// Accumulates the parameters' gradients and returns the gradient of the input.
    public func backward(_ dY: Tensor) throws -> Tensor {
        guard kind == .mlp2xGELU else { return try layers[0].backward(dY) }
        guard let hidden else { throw LayerError.noForwardCache(layer: "Projector") }
        var dHidden = try layers[1].backward(dY)
        for i in 0..<dHidden.count { dHidden.storage[i] *= ErfGELU.derivative(hidden.storage[i]) }
        self.hidden = nil
        return try layers[0].backward(dHidden)
    }

    /// LLaVA's names: `model.mm_projector.weight/bias` (linear), `model.mm_projector.{0,2}.weight/bias` (mlp2x_gelu).
    public var namedParameters: [(name: String, parameter: Parameter)] {
        layers.enumerated().flatMap { index, layer -> [(name: String, parameter: Parameter)] in
            let prefix = kind == .linear ? "model.mm_projector." : "model.mm_projector.\(2 * index)."
            return layer.parameters.map { (name: prefix + $0.name, parameter: $0.parameter) }
        }
    }

    /// Writes `mm_projector.safetensors` (f32) to `path`.
    public func save(to path: String) throws {
        try SafetensorsWriter.writeFile(namedParameters.map { ($0.name, $0.parameter.value) }, dtype: .f32,
                                        metadata: ["mm_projector_type": kind.rawValue], to: path)
    }

    /// Reads an `mm_projector.safetensors`; the kind follows from the names.
    public static func load(path: String) throws -> Projector {
        let file = try SafetensorsFile(path: path)
        func linear(_ prefix: String) throws -> DenseLinear {
            try DenseLinear(weight: try file.tensor(named: prefix + "weight"), bias: try file.tensor(named: prefix + "bias"))
        }
        if file.infos["model.mm_projector.weight"] != nil { return try Projector(kind: .linear, layers: [try linear("model.mm_projector.")]) }
        return try Projector(kind: .mlp2xGELU, layers: [try linear("model.mm_projector.0."), try linear("model.mm_projector.2.")])
    }
}
