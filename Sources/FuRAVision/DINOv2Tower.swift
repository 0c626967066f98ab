import Foundation
import FuRAFormats
import FuRATensor

// Legend: T tokens (CLS + patches), C width, H heads of D = C/H, P patch side, G the stored position grid side.

/// DINOv2 (ViT with layer scale and exact-erf GELU) read from an ONNX export of HF's `Dinov2Model`: the linear
/// weights are found through the MatMul node names (`…/encoder/layer.i/attention/attention/{query,key,value}`,
/// `attention/output/dense`, `mlp/fc1`, `mlp/fc2`), stored [in, out]. Frozen: forward only.
///
/// Its features are LLaVA's: the hidden state after layer `selectLayer` (negative counts from the end, as
/// `hidden_states[select_layer]`, whose index 0 is the embeddings), CLS dropped, without the final layer norm.
public final class DINOv2Tower: VisionTower {
    struct Layer {
        var norm1: (weight: [Float], bias: [Float], epsilon: Float)
        var query, key, value, output: (weight: Tensor, bias: [Float])
        var scale1: [Float]
        var norm2: (weight: [Float], bias: [Float], epsilon: Float)
        var fc1, fc2: (weight: Tensor, bias: [Float])
        var scale2: [Float]
    }

    public let width: Int
    public let patchSize: Int
    public let heads: Int
    /// ImageNet's statistics (DINOv2's preprocessing).
    public let imageMean: [Float] = [0.485, 0.456, 0.406]
    public let imageStd: [Float] = [0.229, 0.224, 0.225]
    /// Layers run: hidden state index (1…layers) that `features` returns.
    public let hiddenStateIndex: Int
    let patchWeight: Tensor  // (C, 3·P·P)
    let patchBias: [Float]
    let classToken: [Float]
    let classPosition: [Float]
    let positionGrid: Tensor  // (G·G, C)
    let gridSide: Int
    let layers: [Layer]

    /// Reads the tower from `path`; `selectLayer` as LLaVA's `--mm_vision_select_layer` (default −2).
    public convenience init(onnxPath path: String, selectLayer: Int = -2) throws {
        try self.init(model: ONNXModel(path: path), selectLayer: selectLayer)
    }

    public init(model: ONNXModel, selectLayer: Int = -2) throws {
        let path = model.path
        func fail(_ reason: String) -> VisionTowerError { .notAViT(path: path, reason: reason) }
        // The node-name prefix of the backbone (e.g. "/backbone" or "") from the first query MatMul.
        let suffix = "/encoder/layer.0/attention/attention/query/MatMul"
        guard let first = model.nodes.first(where: { $0.name.hasSuffix(suffix) && $0.operation == "MatMul" }) else {
            throw fail("no MatMul node named …\(suffix) (an ONNX export of HF's Dinov2Model has one)")
        }
        let prefix = String(first.name.dropLast(suffix.count))
        var count = 0
        while model.nodeNamed["\(prefix)/encoder/layer.\(count)/attention/attention/query/MatMul"] != nil { count += 1 }
        func constant(_ node: String, _ index: Int = 0) throws -> Tensor {
            let values = try model.constantInputs(of: prefix + node)
            guard index < values.count else { throw fail("node \(prefix + node) has \(values.count) constant inputs, expected \(index + 1)") }
            return values[index]
        }
        func vector(_ node: String, _ n: Int) throws -> [Float] {
            let t = try constant(node)
            guard t.count == n else { throw fail("\(prefix + node): \(t.count) values, expected \(n)") }
            return t.storage
        }
        // Patch embedding: Conv (C, 3, P, P), stride P.
        let conv = try model.node(prefix + "/embeddings/patch_embeddings/projection/Conv")
        let kernel = conv.ints["kernel_shape"] ?? []
        guard kernel.count == 2, kernel[0] == kernel[1], conv.ints["strides"] == kernel, kernel[0] >= 1, kernel[0] <= 64 else {
            throw fail("the patch convolution has kernel \(kernel) and strides \(conv.ints["strides"] ?? []); expected square, equal, ≤ 64")
        }
        let p = kernel[0]
        let convWeight = try constant("/embeddings/patch_embeddings/projection/Conv", 0)
        guard convWeight.rank == 4, convWeight.shape[1] == 3, convWeight.shape[2] == p, convWeight.shape[3] == p,
              convWeight.shape[0] >= 1, convWeight.shape[0] <= 8192 else {
            throw fail("the patch convolution's weight is \(convWeight.shape); expected (C, 3, \(p), \(p))")
        }
        let c = convWeight.shape[0]
        width = c
        patchSize = p
        patchWeight = try convWeight.reshaped([c, 3 * p * p])
        patchBias = try constant("/embeddings/patch_embeddings/projection/Conv", 1).storage
        guard patchBias.count == c else { throw fail("the patch convolution's bias has \(patchBias.count) values, expected \(c)") }
        // CLS token and positions: Expand(cls_token); Concat(cls position, interpolated grid); Reshape(grid).
        classToken = try vector("/embeddings/Expand", c)
        classPosition = try vector("/embeddings/Concat_6", c)
        let grid = try constant("/embeddings/Reshape_1")
        let cells = grid.count / c
        let side = Int(Double(cells).squareRoot().rounded())
        guard grid.count == cells * c, side * side == cells, side >= 1 else {
            throw fail("the position embeddings hold \(grid.count) values, not a square grid of \(c)-wide rows")
        }
        gridSide = side
        positionGrid = try grid.reshaped([cells, c])
        // Heads from the attention scale: q and k are each multiplied by D^(−1/4).
        let scale = try constant("/encoder/layer.0/attention/attention/Mul").storage.first ?? 0
        let headDim = scale > 0 ? Int((1 / Double(scale * scale * scale * scale)).rounded()) : 0
        guard headDim >= 1, c % headDim == 0 else { throw fail("attention scale \(scale) gives head size \(headDim), which does not divide \(c)") }
        heads = c / headDim
        let resolved = selectLayer < 0 ? count + 1 + selectLayer : selectLayer
        guard resolved >= 1, resolved <= count else {
            throw VisionTowerError.badOption(option: "--vision-select-layer", value: "\(selectLayer)",
                                             reason: "the tower has \(count) layers: use −\(count)…−1 or 1…\(count)")
        }
        hiddenStateIndex = resolved
        layers = try (0..<resolved).map { i in
            let l = "/encoder/layer.\(i)/"
            func linear(_ name: String, _ inputs: Int, _ outputs: Int) throws -> (weight: Tensor, bias: [Float]) {
                let w = try constant(l + name + "/MatMul")
                guard w.shape == [inputs, outputs] else { throw fail("\(prefix + l + name) weight is \(w.shape), expected [\(inputs), \(outputs)]") }
                return (w, try vector(l + name + "/Add", outputs))
            }
            func norm(_ name: String) throws -> (weight: [Float], bias: [Float], epsilon: Float) {
                let epsilon = try constant(l + name + "/Add").storage.first ?? -1
                guard epsilon > 0, epsilon < 1 else { throw fail("\(prefix + l + name) epsilon \(epsilon)") }
                return (try vector(l + name + "/Mul", c), try vector(l + name + "/Add_1", c), epsilon)
            }
            let hiddenWidth = try constant(l + "mlp/fc1/MatMul").shape.last ?? 0
            guard hiddenWidth >= 1, hiddenWidth <= 1 << 16 else { throw fail("layer \(i) MLP width \(hiddenWidth)") }
            return Layer(norm1: try norm("norm1"),
                         query: try linear("attention/attention/query", c, c), key: try linear("attention/attention/key", c, c),
                         value: try linear("attention/attention/value", c, c), output: try linear("attention/output/dense", c, c),
                         scale1: try vector(l + "layer_scale1/Mul", c), norm2: try norm("norm2"),
                         fc1: try linear("mlp/fc1", c, hiddenWidth), fc2: try linear("mlp/fc2", hiddenWidth, c),
                         scale2: try vector(l + "layer_scale2/Mul", c))
        }
    }

    // MARK: Forward

    public func features(pixels: Tensor) throws -> Tensor {
        let hidden = try hiddenState(pixels: pixels)
        let (t, c) = try hidden.dims2()
        return try Tensor(shape: [t - 1, c], data: Array(hidden.storage[c...]))
    }

    /// The selected hidden state with its CLS row first: (1 + patches, C).
    public func hiddenState(pixels: Tensor) throws -> Tensor {
        var x = try embeddings(pixels: pixels)
        for layer in layers { x = try run(layer, x) }
        return x
    }

    /// CLS and patch embeddings plus positions: (1 + patches, C).
    func embeddings(pixels: Tensor) throws -> Tensor {
        guard pixels.rank == 3, pixels.shape[0] == 3, pixels.shape[1] == pixels.shape[2] else {
            throw VisionTowerError.badInput(reason: "pixels are \(pixels.shape); expected (3, S, S)")
        }
        let size = pixels.shape[1], p = patchSize, c = width
        guard size % p == 0, size >= p, size <= 4096 else {
            throw VisionTowerError.badOption(option: "--image-size", value: "\(size)", reason: "must be a multiple of the patch size \(p), at most 4096")
        }
        let side = size / p, n = side * side
        var patches = Tensor.zeros([n, 3 * p * p])
        for py in 0..<side {
            for px in 0..<side {
                var o = (py * side + px) * 3 * p * p
                for channel in 0..<3 {
                    for ky in 0..<p {
                        let row = (channel * size + py * p + ky) * size + px * p
                        for kx in 0..<p { patches.storage[o] = pixels.storage[row + kx]; o += 1 }
                    }
                }
            }
        }
        let projected = try Tensor.matmul(patches, patchWeight, transposeB: true)
        let positions = try BicubicResize.resizeGrid(positionGrid, from: gridSide, to: side)
        var x = Tensor.zeros([n + 1, c])
        for j in 0..<c { x.storage[j] = classToken[j] + classPosition[j] }
        for i in 0..<n {
            for j in 0..<c {
                x.storage[(i + 1) * c + j] = projected.storage[i * c + j] + patchBias[j] + positions.storage[i * c + j]
            }
        }
        return x
    }

    func run(_ layer: Layer, _ x: Tensor) throws -> Tensor {
        let (t, c) = try x.dims2()
        let headDim = c / heads
        var attentionInput = Self.layerNorm(x, layer.norm1)
        let q = try Self.linear(attentionInput, layer.query)
        let k = try Self.linear(attentionInput, layer.key)
        let v = try Self.linear(attentionInput, layer.value)
        var context = Tensor.zeros([t, c])
        var scores = [Float](repeating: 0, count: t * t)
        let alpha = 1 / Float(headDim).squareRoot()
        q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in v.withUnsafeBufferPointer { pv in
            context.withUnsafeMutableBufferPointer { pc in scores.withUnsafeMutableBufferPointer { ps in
                for h in 0..<heads {
                    let offset = h * headDim
                    BLAS.gemm(transposeA: false, transposeB: true, m: t, n: t, k: headDim, alpha: alpha,
                              a: pq.baseAddress! + offset, lda: c, b: pk.baseAddress! + offset, ldb: c, c: ps.baseAddress!, ldc: t)
                    Kernels.softmaxRows(ps.baseAddress!, rows: t, columns: t)
                    BLAS.gemm(transposeA: false, transposeB: false, m: t, n: headDim, k: t,
                              a: ps.baseAddress!, lda: t, b: pv.baseAddress! + offset, ldb: c, c: pc.baseAddress! + offset, ldc: c)
                }
            } }
        } } }
        attentionInput = try Self.linear(context, layer.output)
        var y = x
        for i in 0..<(t * c) { y.storage[i] += layer.scale1[i % c] * attentionInput.storage[i] }
        let hidden = ErfGELU.forward(try Self.linear(Self.layerNorm(y, layer.norm2), layer.fc1))
        let mlp = try Self.linear(hidden, layer.fc2)
        for i in 0..<(t * c) { y.storage[i] += layer.scale2[i % c] * mlp.storage[i] }
        return y
    }

    /// x · W + b with W stored [in, out].
    static func linear(_ x: Tensor, _ layer: (weight: Tensor, bias: [Float])) throws -> Tensor {
        var y = try Tensor.matmul(x, layer.weight)
        let n = layer.bias.count
        for i in 0..<y.count { y.storage[i] += layer.bias[i % n] }
        return y
    }

    /// Row-wise (x − mean)/√(var + ε)·w + b, the biased variance as `nn.LayerNorm`.
    static func layerNorm(_ x: Tensor, _ norm: (weight: [Float], bias: [Float], epsilon: Float)) -> Tensor {
        var y = x
        let c = norm.weight.count, rows = x.count / c
        for r in 0..<rows {
            var mean = 0.0, variance = 0.0
            for j in 0..<c { mean += Double(x.storage[r * c + j]) }
            mean /= Double(c)
            for j in 0..<c { let d = Double(x.storage[r * c + j]) - mean; variance += d * d }
            let inverse = 1 / (variance / Double(c) + Double(norm.epsilon)).squareRoot()
            for j in 0..<c {
                y.storage[r * c + j] = Float((Double(x.storage[r * c + j]) - mean) * inverse) * norm.weight[j] + norm.bias[j]
            }
        }
        return y
    }
}
