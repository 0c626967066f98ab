// Legend: n elements (flattened row-major), blocks of 64.

extension NF4Tensor {
    /// Byte → (high-nibble level, low-nibble level), so one table read decodes two elements.
    @usableFromInline static let pairTable: [SIMD2<Float>] = (0..<256).map {
        SIMD2(NF4.levels[$0 >> 4], NF4.levels[$0 & 0x0F])
    }

    /// Dequantizes elements `range` of the flattened tensor into `out[0..<range.count]`.
    ///
    /// Full aligned blocks decode two elements per table read; ragged edges go element by element.
    public func dequantize(elements range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        let firstBlock = range.lowerBound / NF4.blockSize
        let lastBlock = (range.upperBound - 1) / NF4.blockSize
        let absmax = scales.absmax(blocks: firstBlock..<(lastBlock + 1))
        Self.pairTable.withUnsafeBufferPointer { table in
            packed.withUnsafeBufferPointer { q in
                for b in firstBlock...lastBlock {
                    let a = absmax[b - firstBlock]
                    let lo = Swift.max(range.lowerBound, b * NF4.blockSize)
                    let hi = Swift.min(range.upperBound, (b + 1) * NF4.blockSize)
                    var i = lo
                    if i & 1 == 1 { out[i - range.lowerBound] = NF4.levels[Int(q[i >> 1] & 0x0F)] * a; i += 1 }
                    let scale = SIMD2<Float>(repeating: a)
                    while i + 1 < hi {
                        let pair = table[Int(q[i >> 1])] * scale
                        out[i - range.lowerBound] = pair.x
                        out[i - range.lowerBound + 1] = pair.y
                        i += 2
                    }
                    if i < hi { out[i - range.lowerBound] = NF4.levels[Int(q[i >> 1] >> 4)] * a }
                }
            }
        }
    }

    /// The whole tensor in `Float`, same shape.
    public func dequantized() -> Tensor {
        var out = Tensor.zeros(shape)
        let n = count
        out.withUnsafeMutableBufferPointer { p in
            Threading.parallelFor(n, minimumPerChunk: 1 << 16) { start, end in
                self.dequantize(elements: start..<end, into: p.baseAddress! + start)
            }
        }
        return out
    }
}
