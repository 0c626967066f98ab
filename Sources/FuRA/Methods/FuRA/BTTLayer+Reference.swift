import FuRANN
import FuRATensor

// Legend: N rows; m output blocks of size a (O = m·a); n input blocks of size b (I = n·b); r rank per block.

/// The simple twin of `BTTLayer`'s fast forward and backward: the formula of Docs/factorization.md §11 with loops in `Double`.
/// Slow; for tests only.
public enum BTTReference {
    /// Per-block coordinates `c[row, i, j, k] = Σ_q btt_r[j, q, i·r+k] · x[row, j·b+q]`, flat (N, m, n, r).
    static func coordinates(_ x: Tensor, right: Tensor, g: BTTGeometry) -> [Double] {
        let rows = x.count / g.inFeatures
        var c = [Double](repeating: 0, count: rows * g.m * g.n * g.r)
        for row in 0..<rows {
            for i in 0..<g.m {
                for j in 0..<g.n {
                    for k in 0..<g.r {
                        var acc = 0.0
                        for q in 0..<g.b {
                            acc += Double(right.storage[(j * g.b + q) * g.m * g.r + i * g.r + k]) * Double(x.storage[row * g.inFeatures + j * g.b + q])
                        }
                        c[((row * g.m + i) * g.n + j) * g.r + k] = acc
                    }
                }
            }
        }
        return c
    }

    /// `s[i, j, k]` or 1.
    static func sValue(_ s: Tensor?, _ i: Int, _ j: Int, _ k: Int, _ g: BTTGeometry) -> Double {
        s.map { Double($0.storage[(i * g.n + j) * g.r + k]) } ?? 1
    }

    /// y (N, O) = Σ_j Σ_k btt_l[i, j·r+k, p] · s[i,j,k] · c[·, i, j, k] + bias.
    ///
    /// - Parameters: `x` (N, I); `right` (n, b, m·r); `left` (m, r·n, a); `singular` (m, n, r) or nil; `bias` (O,) or nil.
    public static func forward(_ x: Tensor, right: Tensor, left: Tensor, singular: Tensor?, bias: Tensor?,
                               geometry g: BTTGeometry) throws -> Tensor {
        let rows = x.count / g.inFeatures
        let c = coordinates(x, right: right, g: g)
        var y = Tensor.zeros([rows, g.outFeatures])
        for row in 0..<rows {
            for i in 0..<g.m {
                for p in 0..<g.a {
                    var acc = bias.map { Double($0.storage[i * g.a + p]) } ?? 0
                    for j in 0..<g.n {
                        for k in 0..<g.r {
                            acc += Double(left.storage[(i * g.n * g.r + j * g.r + k) * g.a + p]) * sValue(singular, i, j, k, g)
                                * c[((row * g.m + i) * g.n + j) * g.r + k]
                        }
                    }
                    y.storage[row * g.outFeatures + i * g.a + p] = Float(acc)
                }
            }
        }
        return y
    }

    /// All gradients of ⟨dY, y⟩: dX (N, I), dRight (n, b, m·r), dLeft (m, r·n, a), dSingular (m, n, r), dBias (O,).
    public static func gradients(_ x: Tensor, _ dY: Tensor, right: Tensor, left: Tensor, singular: Tensor?,
                                 geometry g: BTTGeometry) -> (dX: Tensor, dRight: Tensor, dLeft: Tensor, dSingular: Tensor, dBias: Tensor) {
        let rows = x.count / g.inFeatures
        let c = coordinates(x, right: right, g: g)
        // e[row, i, j, k] = Σ_p btt_l[i, j·r+k, p] · dY[row, i·a+p].
        var e = [Double](repeating: 0, count: rows * g.m * g.n * g.r)
        for row in 0..<rows {
            for i in 0..<g.m {
                for j in 0..<g.n {
                    for k in 0..<g.r {
                        var acc = 0.0
                        for p in 0..<g.a {
                            acc += Double(left.storage[(i * g.n * g.r + j * g.r + k) * g.a + p]) * Double(dY.storage[row * g.outFeatures + i * g.a + p])
                        }
                        e[((row * g.m + i) * g.n + j) * g.r + k] = acc
                    }
                }
            }
        }
        var dX = [Double](repeating: 0, count: x.count)
        var dR = [Double](repeating: 0, count: g.rightCount)
        var dL = [Double](repeating: 0, count: g.leftCount)
        var dS = [Double](repeating: 0, count: g.singularCount)
        var dB = [Double](repeating: 0, count: g.outFeatures)
        for row in 0..<rows {
            for o in 0..<g.outFeatures { dB[o] += Double(dY.storage[row * g.outFeatures + o]) }
            for i in 0..<g.m {
                for j in 0..<g.n {
                    for k in 0..<g.r {
                        let idx = ((row * g.m + i) * g.n + j) * g.r + k
                        let s = sValue(singular, i, j, k, g)
                        dS[(i * g.n + j) * g.r + k] += c[idx] * e[idx]
                        for p in 0..<g.a {
                            dL[(i * g.n * g.r + j * g.r + k) * g.a + p] += s * c[idx] * Double(dY.storage[row * g.outFeatures + i * g.a + p])
                        }
                        for q in 0..<g.b {
                            let rIndex = (j * g.b + q) * g.m * g.r + i * g.r + k
                            dR[rIndex] += Double(x.storage[row * g.inFeatures + j * g.b + q]) * s * e[idx]
                            dX[row * g.inFeatures + j * g.b + q] += Double(right.storage[rIndex]) * s * e[idx]
                        }
                    }
                }
            }
        }
        func tensor(_ v: [Double], _ shape: [Int]) -> Tensor {
            var t = Tensor.zeros(shape)
            for i in 0..<v.count { t.storage[i] = Float(v[i]) }
            return t
        }
        return (tensor(dX, [rows, g.inFeatures]), tensor(dR, g.rightShape), tensor(dL, g.leftShape),
                tensor(dS, g.singularShape), tensor(dB, [g.outFeatures]))
    }

    /// The dense weight (O, I) from the formula of Docs/factorization.md §13, element by element.
    public static func denseWeight(right: Tensor, left: Tensor, singular: Tensor?, geometry g: BTTGeometry) -> Tensor {
        var w = Tensor.zeros([g.outFeatures, g.inFeatures])
        for i in 0..<g.m {
            for j in 0..<g.n {
                for p in 0..<g.a {
                    for q in 0..<g.b {
                        var acc = 0.0
                        for k in 0..<g.r {
                            acc += Double(left.storage[(i * g.n * g.r + j * g.r + k) * g.a + p]) * sValue(singular, i, j, k, g)
                                * Double(right.storage[(j * g.b + q) * g.m * g.r + i * g.r + k])
                        }
                        w.storage[(i * g.a + p) * g.inFeatures + j * g.b + q] = Float(acc)
                    }
                }
            }
        }
        return w
    }
}
