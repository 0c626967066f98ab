/// Elementwise and reduction kernels for transformer layers.
///
/// Each fast kernel works on raw pointers with `SIMD16<Float>` accumulators; its simple scalar
/// twin (suffix `Reference`) stays beside it and the tests compare the two on random data.
public enum Kernels {
    public typealias Vector = SIMD16<Float>
    public static let width = 16

    // MARK: Dot product and sums

    /// Σ a[i]·b[i] over `count` elements.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc0 = Vector(repeating: 0), acc1 = Vector(repeating: 0)
        var i = 0
        while i + 2 * width <= count {
            acc0 = acc0.addingProduct(load(a + i), load(b + i))
            acc1 = acc1.addingProduct(load(a + i + width), load(b + i + width))
            i += 2 * width
        }
        while i + width <= count {
            acc0 = acc0.addingProduct(load(a + i), load(b + i))
            i += width
        }
        var total = (acc0 + acc1).sum()
        while i < count { total += a[i] * b[i]; i += 1 }
        return total
    }

    /// Reference twin of `dot`, accumulated in `Double`.
    public static func dotReference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = 0.0
        for i in 0..<count { acc += Double(a[i]) * Double(b[i]) }
        return Float(acc)
    }

    /// Σ x[i]² over `count` elements.
    @inlinable
    public static func sumOfSquares(_ x: UnsafePointer<Float>, _ count: Int) -> Float { dot(x, x, count) }

    /// y[i] += alpha · x[i].
    @inlinable
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        let va = Vector(repeating: alpha)
        var i = 0
        while i + width <= count {
            store(load(y + i).addingProduct(va, load(x + i)), y + i)
            i += width
        }
        while i < count { y[i] += alpha * x[i]; i += 1 }
    }

    /// x[i] *= alpha.
    @inlinable
    public static func scale(_ x: UnsafeMutablePointer<Float>, _ alpha: Float, _ count: Int) {
        let va = Vector(repeating: alpha)
        var i = 0
        while i + width <= count { store(load(x + i) * va, x + i); i += width }
        while i < count { x[i] *= alpha; i += 1 }
    }

    // MARK: Row-wise operations

    /// In-place numerically stable softmax of each row of a (rows × columns) matrix.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows { softmax(x + r * columns, columns) }
    }

    /// In-place softmax of one row of length `n`.
    @inlinable
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        guard n > 0 else { return }
        let total = expShiftedSum(x, n, shift: max(x, n))
        scale(x, 1 / total, n)
    }

    /// Reference twin of `softmaxRows` in `Double`.
    public static func softmaxRowsReference(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows {
            let row = x + r * columns
            var m = -Double.infinity
            for i in 0..<columns { m = Swift.max(m, Double(row[i])) }
            var total = 0.0
            for i in 0..<columns { total += _exp(Double(row[i]) - m) }
            for i in 0..<columns { row[i] = Float(_exp(Double(row[i]) - m) / total) }
        }
    }

    /// The largest element of a row.
    @inlinable
    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        // `replacing(with:where:)` compiles to vector compare-and-blend; `pointwiseMax` does not (it
        // runs lane by lane, 25× slower). Four accumulators hide the blend latency.
        var a0 = Vector(repeating: -.infinity), a1 = a0, a2 = a0, a3 = a0
        var i = 0
        while i + 4 * width <= n {
            let v0 = load(x + i), v1 = load(x + i + width), v2 = load(x + i + 2 * width), v3 = load(x + i + 3 * width)
            a0 = a0.replacing(with: v0, where: v0 .> a0); a1 = a1.replacing(with: v1, where: v1 .> a1)
            a2 = a2.replacing(with: v2, where: v2 .> a2); a3 = a3.replacing(with: v3, where: v3 .> a3)
            i += 4 * width
        }
        while i + width <= n { let v = load(x + i); a0 = a0.replacing(with: v, where: v .> a0); i += width }
        a0 = a0.replacing(with: a1, where: a1 .> a0)
        a2 = a2.replacing(with: a3, where: a3 .> a2)
        var m = a0.replacing(with: a2, where: a2 .> a0).max()
        while i < n { m = Swift.max(m, x[i]); i += 1 }
        return m
    }

    /// The root mean square √(mean(x²) + eps) of each row, written to `out[rows]`.
    public static func rmsRows(_ x: UnsafePointer<Float>, rows: Int, columns: Int, eps: Float, out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            out[r] = (sumOfSquares(x + r * columns, columns) / Float(columns) + eps).squareRoot()
        }
    }

    /// Reference twin of `rmsRows` in `Double`.
    public static func rmsRowsReference(_ x: UnsafePointer<Float>, rows: Int, columns: Int, eps: Float, out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            var acc = 0.0
            for i in 0..<columns { acc += Double(x[r * columns + i]) * Double(x[r * columns + i]) }
            out[r] = Float((acc / Double(columns) + Double(eps)).squareRoot())
        }
    }

    /// Index of the largest element (the first one on ties).
    public static func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for i in 0..<n where x[i] > bestValue { bestValue = x[i]; best = i }
        return best
    }

    /// Indices of the `k` largest elements, largest first (lower index first on ties).
    public static func topK(_ x: UnsafePointer<Float>, _ n: Int, k: Int) -> [Int] {
        let k = Swift.min(k, n)
        guard k > 0 else { return [] }
        // A small sorted buffer: O(n·k) worst case, O(n) in the usual case where few elements enter.
        var idx = [Int](); idx.reserveCapacity(k + 1)
        for i in 0..<n {
            let v = x[i]
            if idx.count == k, v <= x[idx[k - 1]] { continue }
            var pos = idx.count
            while pos > 0, x[idx[pos - 1]] < v { pos -= 1 }
            idx.insert(i, at: pos)
            if idx.count > k { idx.removeLast() }
        }
        return idx
    }

    /// Reference twin of `topK`: a full stable sort.
    public static func topKReference(_ x: UnsafePointer<Float>, _ n: Int, k: Int) -> [Int] {
        Array((0..<n).sorted { x[$0] != x[$1] ? x[$0] > x[$1] : $0 < $1 }.prefix(k))
    }

    // MARK: SIMD helpers

    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
    }

    @inlinable @inline(__always)
    public static func load(_ p: UnsafeMutablePointer<Float>) -> Vector { load(UnsafePointer(p)) }

    @inlinable @inline(__always)
    public static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
    }
}

@usableFromInline func _exp(_ x: Double) -> Double { Foundation.exp(x) }
@usableFromInline func _log(_ x: Double) -> Double { Foundation.log(x) }

import Foundation
