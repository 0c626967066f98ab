extension Tensor {
    /// A tensor of `shape` whose elements `fill` writes, without zeroing them first (for outputs that
    /// a kernel overwrites completely). `fill` must write every one of the shape's element count.
    public static func filled(_ shape: [Int], by fill: (UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let n = shape.reduce(1, *)
        // SAFETY: the buffer holds n floats; `fill` initializes all of them (a contract of this call).
        let data = [Float](unsafeUninitializedCapacity: n) { buffer, count in
            if n > 0 { fill(buffer.baseAddress!) }
            count = n
        }
        return Tensor(unchecked: shape, data)
    }

    /// A tensor whose elements the caller overwrites (through raw pointers) before anything reads them:
    /// `filled` for writes that happen later, e.g. from several threads or several calls.
    public static func unfilled(_ shape: [Int]) -> Tensor { filled(shape) { _ in } }
}
