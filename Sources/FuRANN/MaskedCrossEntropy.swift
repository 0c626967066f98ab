import Foundation
import FuRATensor

// Legend: N hidden rows, R target rows in one chunk, C model dim, V vocabulary size.

/// Cross-entropy of the LM head taken only at positions with labels.
///
/// The rows that carry a label are gathered first, so the (R, C)·(C, V) product of the LM head runs
/// only where a loss is taken, in chunks of R rows to bound the logits memory to R·V floats.
public enum MaskedCrossEntropy {
    /// Target rows whose logits exist at once (R): the logits' memory is R·V floats, not N·V.
    public static let defaultChunkRows = 128

    /// One labelled position: a row of the hidden states and the token to predict there.
    public struct Target: Equatable, Sendable {
        public var row: Int
        public var label: Int
        public init(row: Int, label: Int) { self.row = row; self.label = label }
    }

    /// The result: the summed loss Σ −log p(label), the per-target log-probabilities, and dHidden.
    public struct Result {
        public var lossSum: Double
        public var logProbabilities: [Float]
        /// (N, C), zero in rows without a target; nil when no gradient was asked.
        public var dHidden: Tensor?
    }

    /// Loss (and, when `computeGradient`, the gradient of `lossScale · loss`) for the targets.
    ///
    /// - Parameters: `hidden` (N, C) final-normed states; `head` (V, C) the LM head (accumulates
    ///   dHead = Σ dLogitsᵀ·rows when it trains and a gradient is asked). `targetWeight`, when given,
    ///   makes the gradient that of `lossScale · Σ_k w_k · (−log p_k)` with `w_k = targetWeight(k, log p_k)`
    ///   (a policy gradient whose per-token weight depends on the token's own log-probability); the
    ///   returned `lossSum` stays the unweighted Σ −log p.
    ///   `packedHead`, when given, is the head packed for bf16 products (`TrainingPanels`): the logits and dHidden
    ///   products run on it (the head's own gradient, when it trains, stays an f32 product).
    public static func evaluate(hidden: Tensor, head: Parameter, packedHead: TrainingPanels? = nil, targets: [Target], lossScale: Float = 1,
                                computeGradient: Bool, chunkRows: Int = defaultChunkRows,
                                targetWeight: ((_ target: Int, _ logProbability: Float) -> Float)? = nil) throws -> Result {
        let (n, c) = try hidden.dims2("MaskedCrossEntropy hidden")
        let (v, c2) = try head.value.dims2("MaskedCrossEntropy head")
        guard c == c2 else { throw TensorError.shapeMismatch(operation: "MaskedCrossEntropy", lhs: hidden.shape, rhs: head.value.shape) }
        if let packedHead, packedHead.rows != v || packedHead.columns != c {
            throw TensorError.shapeMismatch(operation: "MaskedCrossEntropy packed head", lhs: [packedHead.rows, packedHead.columns], rhs: [v, c])
        }
        for t in targets where t.row < 0 || t.row >= n || t.label < 0 || t.label >= v {
            throw LayerError.badInput(layer: "MaskedCrossEntropy", expected: "rows in 0..<\(n), labels in 0..<\(v)", actual: [t.row, t.label])
        }
        var lossSum = 0.0
        var logProbabilities = [Float](repeating: 0, count: targets.count)
        var dHidden: Tensor? = computeGradient ? Tensor.zeros([n, c]) : nil
        let headTrains = computeGradient && head.trainable && head.gradient != nil
        let step = max(1, chunkRows)
        var rows = [Float](repeating: 0, count: min(step, max(1, targets.count)) * c)
        var logits = [Float](repeating: 0, count: min(step, max(1, targets.count)) * v)
        var dRows = [Float](repeating: 0, count: computeGradient ? rows.count : 0)
        var start = 0
        while start < targets.count {
            let chunk = Array(targets[start..<min(start + step, targets.count)])
            let r = chunk.count
            hidden.withUnsafeBufferPointer { ph in rows.withUnsafeMutableBufferPointer { pr in
                for (i, t) in chunk.enumerated() { (pr.baseAddress! + i * c).update(from: ph.baseAddress! + t.row * c, count: c) }
            } }
            head.value.withUnsafeBufferPointer { pw in rows.withUnsafeBufferPointer { pr in logits.withUnsafeMutableBufferPointer { pl in
                if let packedHead {
                    packedHead.forward.multiply(pr.baseAddress!, rows: r, into: pl.baseAddress!)
                } else {
                    BLAS.gemm(transposeA: false, transposeB: true, m: r, n: v, k: c, a: pr.baseAddress!, lda: c,
                              b: pw.baseAddress!, ldb: c, c: pl.baseAddress!, ldc: v)
                }
            } } }
            // log p = z − max − log Σ exp(z − max); the gradient of −log p(label) is softmax − onehot.
            var chunkLogProbabilities = [Double](repeating: 0, count: r)
            logits.withUnsafeMutableBufferPointer { pl in chunkLogProbabilities.withUnsafeMutableBufferPointer { plp in
                let (base, lps) = (pl.baseAddress!, plp.baseAddress!)
                Threading.parallelFor(r) { first, last in
                    for i in first..<last {
                        let t = chunk[i]
                        let z = base + i * v
                        let m = Kernels.max(z, v)
                        let labelLogit = z[t.label]
                        let total = Double(Kernels.expShiftedSum(z, v, shift: m))
                        lps[i] = Double(labelLogit) - Double(m) - log(total)
                        if computeGradient {
                            let w = lossScale * (targetWeight?(start + i, Float(lps[i])) ?? 1)
                            Kernels.scale(z, Float(Double(w) / total), v)
                            z[t.label] -= w
                        }
                    }
                }
            } }
            for (i, lp) in chunkLogProbabilities.enumerated() {
                logProbabilities[start + i] = Float(lp)
                lossSum -= lp
            }
            if computeGradient {
                logits.withUnsafeBufferPointer { pl in head.value.withUnsafeBufferPointer { pw in dRows.withUnsafeMutableBufferPointer { pd in
                    if let packedHead {
                        packedHead.backward.multiply(pl.baseAddress!, rows: r, into: pd.baseAddress!)
                    } else {
                        BLAS.gemm(transposeA: false, transposeB: false, m: r, n: c, k: v, a: pl.baseAddress!, lda: v,
                                  b: pw.baseAddress!, ldb: c, c: pd.baseAddress!, ldc: c)
                    }
                } } }
                dHidden!.withUnsafeMutableBufferPointer { pdh in dRows.withUnsafeBufferPointer { pd in
                    for (i, t) in chunk.enumerated() { Kernels.axpy(1, pd.baseAddress! + i * c, pdh.baseAddress! + t.row * c, c) }
                } }
                if headTrains {
                    logits.withUnsafeBufferPointer { pl in rows.withUnsafeBufferPointer { pr in head.gradient!.withUnsafeMutableBufferPointer { pg in
                        BLAS.gemm(transposeA: true, transposeB: false, m: v, n: c, k: r, a: pl.baseAddress!, lda: v,
                                  b: pr.baseAddress!, ldb: c, beta: 1, c: pg.baseAddress!, ldc: c)
                    } } }
                }
            }
            start += r
        }
        return Result(lossSum: lossSum, logProbabilities: logProbabilities, dHidden: dHidden)
    }
}
