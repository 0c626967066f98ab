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
        var y = Tensor.zeros([n, total])
        var column = 0
        for p in products {
            let o = p.shape[1]
            for r in 0..<n {
                for j in 0..<o { y.storage[r * total + column + j] = p.storage[r * o + j] }
            }
            column += o
        }
        return y
    }
}
