// Legend: N rows of a block, C its columns, ld the row stride of the matrix it sits in.

/// An N × C block of a larger row-major matrix (rows `ld` apart): copied out to a contiguous tensor, or written back
/// (set, or added with a factor). For products whose operand or result is a column range of another matrix (a weight
/// tile's rows of y, a slab's columns of Z) on kernels that read and write whole rows.
public enum StridedBlock {
    /// The block at `source` (N rows of C, `ld` apart) as an (N, C) tensor.
    public static func gather(_ source: UnsafePointer<Float>, ld: Int, rows n: Int, columns c: Int) -> Tensor {
        Tensor.filled([n, c]) { out in
            for row in 0..<n { (out + row * c).update(from: source + row * ld, count: c) }
        }
    }

    /// destination[r, 0..<C] = alpha · block[r, :] (or += with `accumulate`) for every row of block (N, C); the
    /// destination's rows are `ld` apart.
    public static func scatter(_ block: Tensor, into destination: UnsafeMutablePointer<Float>, ld: Int,
                               accumulate: Bool = false, alpha: Float = 1) {
        let (n, c) = (block.shape[0], block.shape[1])
        block.withUnsafeBufferPointer { pb in
            for row in 0..<n {
                let src = pb.baseAddress! + row * c, dst = destination + row * ld
                if accumulate {
                    Kernels.axpy(alpha, src, dst, c)
                } else if alpha == 1 {
                    dst.update(from: src, count: c)
                } else {
                    for k in 0..<c { dst[k] = alpha * src[k] }
                }
            }
        }
    }
}
