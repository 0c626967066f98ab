import FuRATensor

// Legend: N rows of x, I input features, O_i output features of part i.

/// Packed weights (O_i, I) stacked by output rows and multiplied one after the other: a fused projection
/// (q/k/v, gate/up) whose parts are held in different forms (a Q4_K_M file's Q4_K q and k beside a Q6_K v).
struct StackedWeight: PackedWeight {
    let parts: [any PackedWeight]

    init(_ parts: [any PackedWeight]) { self.parts = parts }

    var byteCount: Int { parts.reduce(0) { $0 + $1.byteCount } }
    var servesAllRows: Bool { parts.allSatisfy(\.servesAllRows) }

    /// y (N, ΣO_i): each part's product in its own columns.
    func multiply(_ x: Tensor) throws -> Tensor {
        let products = try parts.map { try $0.multiply(x) }
        let n = x.shape[0], total = products.reduce(0) { $0 + $1.shape[1] }
        return Tensor.filled([n, total]) { y in
            var column = 0
            for p in products {
                let o = p.shape[1]
                p.withUnsafeBufferPointer { pp in
                    for r in 0..<n { (y + r * total + column).update(from: pp.baseAddress! + r * o, count: o) }
                }
                column += o
            }
        }
    }
}
