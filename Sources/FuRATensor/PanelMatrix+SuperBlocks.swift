// Legend: I columns of W, B columns per block, S blocks per super-block.

extension PanelMatrix {
    /// One row of a super-block matrix, for `init(superBlockRows:…)`'s `fill` to write.
    public struct SuperBlockRow {
        /// I codes (0...15 for 4 bits, −128...127 for 8 bits).
        public let codes: UnsafeMutablePointer<Int8>
        /// I/B scale codes and offset codes.
        public let scaleCodes: UnsafeMutablePointer<Int8>
        public let offsetCodes: UnsafeMutablePointer<Int8>
        /// I/(B·S) super-block factors of the scales and of the offsets.
        public let superScales: UnsafeMutablePointer<Float>
        public let superOffsets: UnsafeMutablePointer<Float>

        public init(codes: UnsafeMutablePointer<Int8>, scaleCodes: UnsafeMutablePointer<Int8>, offsetCodes: UnsafeMutablePointer<Int8>,
                    superScales: UnsafeMutablePointer<Float>, superOffsets: UnsafeMutablePointer<Float>) {
            self.codes = codes; self.scaleCodes = scaleCodes; self.offsetCodes = offsetCodes
            self.superScales = superScales; self.superOffsets = superOffsets
        }

        /// Weight k as the matrix will hold it (`PanelMatrix.superBlockValue`).
        @inlinable
        public func value(_ k: Int, blockSize: Int, blocksPerSuperBlock: Int) -> Float {
            let (b, f) = (k / blockSize, k / (blockSize * blocksPerSuperBlock))
            return PanelMatrix.superBlockValue(code: Float(codes[k]), superScale: superScales[f], scaleCode: scaleCodes[b],
                                               superOffset: superOffsets[f], offsetCode: offsetCodes[b])
        }
    }

    /// Builds an affine matrix whose block scales and offsets are 8-bit codes times an f32 factor per super-block
    /// of S blocks (GGUF's K-quants: Q4_K with B = 32, S = 8; Q6_K with B = 16, S = 16): value =
    /// Float(q)·(S_f·Float(sc)) − M_f·Float(mc). A fifth of the scale bytes of an f32 pair per block, and the same
    /// weights bit for bit. I must be a multiple of B·S.
    public convenience init(superBlockRows rows: Int, columns: Int, bits: Int, blockSize: Int, blocksPerSuperBlock: Int,
                            fill: (Int, SuperBlockRow) throws -> Void) throws {
        guard bits == 4 || bits == 8, blockSize == 16 || blockSize == 32, blocksPerSuperBlock > 0, blocksPerSuperBlock.nonzeroBitCount == 1 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix",
                                              message: "super-block matrices take 4 or 8 bits, blocks of 16 or 32 and a power of two of them per super-block (got \(bits) bits, blocks of \(blockSize), \(blocksPerSuperBlock) per super-block)")
        }
        guard rows > 0, columns > 0, columns % (blockSize * blocksPerSuperBlock) == 0 else {
            throw TensorError.invalidArgument(operation: "PanelMatrix",
                                              message: "a super-block matrix needs positive sizes with columns a multiple of \(blockSize * blocksPerSuperBlock) (got \(rows)×\(columns))")
        }
        self.init(rows: rows, columns: columns, storage: bits == 4 ? .affine4 : .affine8, blockSize: blockSize, superBlock: blocksPerSuperBlock)
        let w = Self.panelWidth, supers = superBlocks
        var codes = [Int8](repeating: 0, count: columns), sc = [Int8](repeating: 0, count: blocks), mc = sc
        var fs = [Float](repeating: 0, count: supers), fm = fs
        for r in 0..<rows {
            let (p, j) = (r / w, r % w)
            try codes.withUnsafeMutableBufferPointer { c in try sc.withUnsafeMutableBufferPointer { psc in try mc.withUnsafeMutableBufferPointer { pmc in
                try fs.withUnsafeMutableBufferPointer { pfs in try fm.withUnsafeMutableBufferPointer { pfm in
                    c.update(repeating: 0); pmc.update(repeating: 0); pfm.update(repeating: 0)
                    try fill(r, SuperBlockRow(codes: c.baseAddress!, scaleCodes: psc.baseAddress!, offsetCodes: pmc.baseAddress!,
                                              superScales: pfs.baseAddress!, superOffsets: pfm.baseAddress!))
                    if bits == 4, let bad = c.first(where: { $0 < 0 || $0 > 15 }) {
                        throw TensorError.invalidArgument(operation: "PanelMatrix", message: "row \(r): 4-bit code \(bad) is outside 0...15")
                    }
                    for b in 0..<blocks {
                        scaleCodes[(p * blocks + b) * w + j] = psc[b]
                        offsetCodes[(p * blocks + b) * w + j] = pmc[b]
                    }
                    for f in 0..<supers {
                        scales[(p * supers + f) * w + j] = pfs[f]
                        offsets[(p * supers + f) * w + j] = pfm[f]
                    }
                    if pfm.contains(where: { $0 != 0 }) && pmc.contains(where: { $0 != 0 }) { hasOffsets = true }
                    storeCodes(row: r, c.baseAddress!)
                } }
            } } }
        }
    }

    /// The 16 scales of panel p's block b (each row's), as the products read them.
    @inline(__always)
    func blockScale(_ p: Int, _ b: Int) -> SIMD16<Float> {
        let w = Self.panelWidth
        guard superBlock > 0 else { return Kernels.load(scales + (p * blocks + b) * w) }
        let codes = UnsafeRawPointer(scaleCodes + (p * blocks + b) * w).loadUnaligned(as: SIMD16<Int8>.self)
        return Kernels.load(scales + (p * superBlocks + (b >> superShift)) * w) * Self.floats(codes)
    }

    /// The 16 offsets of panel p's block b.
    @inline(__always)
    func blockOffset(_ p: Int, _ b: Int) -> SIMD16<Float> {
        let w = Self.panelWidth
        guard superBlock > 0 else { return Kernels.load(offsets + (p * blocks + b) * w) }
        let codes = UnsafeRawPointer(offsetCodes + (p * blocks + b) * w).loadUnaligned(as: SIMD16<Int8>.self)
        return -(Kernels.load(offsets + (p * superBlocks + (b >> superShift)) * w) * Self.floats(codes))
    }
}
