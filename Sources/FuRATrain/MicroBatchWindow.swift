import FuRANN

/// The micro-batches of one gradient-accumulation window, shared out over the processes of a `Collective`, with
/// gradients combined in a fixed order so that the result does not depend on the number of processes.
///
/// Every micro-batch starts from zero gradients; its gradient g_i is then added into the window's sum in global
/// micro-batch order, ((g₀ + g₁) + g₂) + …, on every process. One process runs every micro-batch and folds each
/// as it is done; N processes run contiguous shares, then each g_i is broadcast by the rank that ran it and folded
/// in the same order. The window's gradient, and so every update, is bit-identical for any N.
public struct MicroBatchWindow {
    /// The trainable parameters, in the model's order (their gradients are the flat buffer's pieces).
    public let parameters: [Parameter]
    public let collective: any Collective
    /// Called before each micro-batch's passes with its global index in the window (reseeds adapter dropout).
    public var beginMicroBatch: (Int) throws -> Void

    public init(parameters: [Parameter], collective: any Collective = SingleProcess(), beginMicroBatch: @escaping (Int) throws -> Void = { _ in }) {
        self.parameters = parameters; self.collective = collective; self.beginMicroBatch = beginMicroBatch
    }

    /// Bytes of gradient buffers a process holds beside the parameters' own gradients while it runs a window: the
    /// window's sum, and with several processes also its `microBatches` local gradients and one receive buffer
    /// (for `fura plan`'s memory per process).
    public static func bufferBytes(trainable: Int, processes: Int, microBatches: Int) -> Int {
        trainable * MemoryLayout<Float>.size * (1 + (processes > 1 ? microBatches + 1 : 0))
    }

    /// The global micro-batch indices of a window of `count` that `rank` of `size` runs: contiguous, in rank order,
    /// the first `count % size` ranks one more (a rank may get none).
    public static func share(count: Int, rank: Int, size: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    /// Runs `body(i)` for this process's micro-batches i (each from zero gradients), leaves the window's gradient in
    /// every trainable parameter, and returns every micro-batch's value (its loss sum) in global order.
    public func run(count: Int, _ body: (Int) throws -> Double) throws -> [Double] {
        try run(count: count, width: 1) { [try body($0)] }.map { $0[0] }
    }

    /// As `run(count:_:)`, with `width` values per micro-batch (a loss sum and counts), every micro-batch's in global order.
    public func run(count: Int, width: Int, _ body: (Int) throws -> [Double]) throws -> [[Double]] {
        precondition(width >= 1, "a micro-batch gives at least one value")
        let mine = Self.share(count: count, rank: collective.rank, size: collective.size)
        var sum = [Float](repeating: 0, count: parameters.reduce(0) { $0 + $1.count })
        var gradients = [[Float]]()
        var values = [[Double]]()
        for i in mine {
            for p in parameters { p.zeroGradient() }
            try beginMicroBatch(i)
            let value = try body(i)
            precondition(value.count == width, "micro-batch \(i) gave \(value.count) values, not \(width)")
            values.append(value)
            if collective.size == 1 { foldGradients(into: &sum) } else { gradients.append(flatGradient()) }
        }
        if collective.size > 1 {
            var all = [[Double]]()
            for rank in 0..<collective.size {
                let share = Self.share(count: count, rank: rank, size: collective.size)
                var theirs = rank == collective.rank ? values.flatMap { $0 } : [Double](repeating: 0, count: share.count * width)
                try collective.broadcast(&theirs, root: rank)
                all += stride(from: 0, to: theirs.count, by: width).map { Array(theirs[$0..<($0 + width)]) }
                for i in share {
                    var g = rank == collective.rank ? gradients[i - mine.lowerBound] : [Float](repeating: 0, count: sum.count)
                    try collective.broadcast(&g, root: rank)
                    Self.fold(g, into: &sum)
                }
            }
            values = all
        }
        var offset = 0
        for p in parameters {
            p.gradient?.storage.replaceSubrange(0..<p.count, with: sum[offset..<(offset + p.count)])
            offset += p.count
        }
        return values
    }

    /// Every trainable gradient, concatenated in parameter order.
    func flatGradient() -> [Float] {
        var flat = [Float]()
        flat.reserveCapacity(parameters.reduce(0) { $0 + $1.count })
        for p in parameters { flat += p.gradient?.storage ?? [Float](repeating: 0, count: p.count) }
        return flat
    }

    /// Adds every trainable gradient into its piece of `sum` (as `fold(flatGradient(), into:)`, without the copy).
    func foldGradients(into sum: inout [Float]) {
        var offset = 0
        for p in parameters {
            if let g = p.gradient { Self.fold(g.storage, into: &sum, at: offset) }
            offset += p.count
        }
    }

    /// `sum[offset...] += g` elementwise (one rounding per element, so the order of the folds alone fixes the result).
    static func fold(_ g: [Float], into sum: inout [Float], at offset: Int = 0) {
        precondition(offset + g.count <= sum.count, "\(g.count) gradient values at \(offset) for a sum of \(sum.count)")
        sum.withUnsafeMutableBufferPointer { s in
            g.withUnsafeBufferPointer { x in
                for e in x.indices { s[offset + e] += x[e] }
            }
        }
    }
}
