@testable import FuRAFormats
@testable import FuRAModels
@testable import FuRATensor
import FuRATestSupport
import Testing

/// GGUF blocks re-expressed as affine codes give, bit for bit, the loader's weights — the values the
/// generation engine's `--precision gguf` multiplies by.
@Suite struct GGUFAffineCodesTests {
    /// Random blocks (finite scale fields) of `type`, `blocks` of them.
    static func randomBlocks(_ type: GGMLType, blocks: Int, seed: UInt64) -> [UInt8] {
        let (_, bytes) = type.blockGeometry
        var rng = RNG(seed: seed)
        var raw = (0..<(blocks * bytes)).map { _ in UInt8(truncatingIfNeeded: Int(rng.uniform() * 256)) }
        for b in 0..<blocks {
            func put(_ offset: Int) { let h = GGUFQuantTests.f16(rng.uniform() * 0.1 - 0.05); raw[b * bytes + offset] = h[0]; raw[b * bytes + offset + 1] = h[1] }
            switch type {
            case .q8_0, .q4_0, .q5_0: put(0)
            case .q4_1, .q4_K: put(0); put(2)
            case .q6_K: put(208)
            default: break
            }
        }
        return raw
    }

    @Test(arguments: [GGMLType.q8_0, .q4_0, .q5_0, .q4_1, .q4_K, .q6_K])
    func codesGiveTheLoadersValuesBitForBit(type: GGMLType) throws {
        let layout = try #require(GGUFAffineCodes.layout(of: type))
        let count = 512
        let raw = Self.randomBlocks(type, blocks: count / type.blockGeometry.elements, seed: UInt64(type.rawValue) + 3)
        let expected = try GGUFQuantTests.fast(raw, type, count)
        var codes = [Int8](repeating: 0, count: count)
        var scales = [Float](repeating: .nan, count: count / layout.blockSize), offsets = scales
        raw.withUnsafeBytes { r in
            GGUFAffineCodes.decodeRow(r.baseAddress!, type: type, count: count, codes: &codes, scales: &scales, offsets: &offsets)
        }
        if layout.bits == 4 { #expect(codes.allSatisfy { (0...15).contains($0) }) }
        let decoded = (0..<count).map { Float(codes[$0]) * scales[$0 / layout.blockSize] + offsets[$0 / layout.blockSize] }
        #expect(decoded == expected, "\(type)")
        // Through a PanelMatrix of that layout: the same weights, and products equal to the reference's.
        // The super-block form (K-quants) gives the same weights.
        if layout.blocksPerSuperBlock > 0 {
            let blocks = count / layout.blockSize
            var sc = [Int8](repeating: 0, count: blocks), mc = sc, fs = [Float](repeating: 0, count: count / 256), fm = fs
            var superCodes = [Int8](repeating: 0, count: count)
            raw.withUnsafeBytes { r in
                GGUFAffineCodes.decodeSuperBlockRow(r.baseAddress!, type: type, count: count,
                                                    into: PanelMatrix.SuperBlockRow(codes: &superCodes, scaleCodes: &sc, offsetCodes: &mc, superScales: &fs, superOffsets: &fm))
            }
            let row = PanelMatrix.SuperBlockRow(codes: &superCodes, scaleCodes: &sc, offsetCodes: &mc, superScales: &fs, superOffsets: &fm)
            #expect((0..<count).map { row.value($0, blockSize: layout.blockSize, blocksPerSuperBlock: layout.blocksPerSuperBlock) } == expected)
            let m = try PanelMatrix(superBlockRows: 2, columns: count, bits: layout.bits, blockSize: layout.blockSize,
                                    blocksPerSuperBlock: layout.blocksPerSuperBlock) { _, into in
                for k in 0..<count { into.codes[k] = superCodes[k] }
                for b in 0..<blocks { into.scaleCodes[b] = sc[b]; into.offsetCodes[b] = mc[b] }
                for f in 0..<(count / 256) { into.superScales[f] = fs[f]; into.superOffsets[f] = fm[f] }
            }
            #expect(m.widened().storage == expected + expected)
            let x = TestSupport.random([3, count], seed: 6)
            let fast = try m.multiply(x), slow = try m.multiplyReference(x)
            #expect(zip(fast.storage, slow.storage).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) }, "\(type) super-blocks")
        }
        let m = try PanelMatrix(affineRows: 3, columns: count / 2, bits: layout.bits, blockSize: layout.blockSize) { r, c, s, o in
            let half = count / 2, blocks = half / layout.blockSize
            let src = r % 2 * half
            for k in 0..<half { c[k] = codes[src + k] }
            for b in 0..<blocks { s[b] = scales[src / layout.blockSize + b]; o[b] = offsets[src / layout.blockSize + b] }
        }
        #expect(m.widened().storage == Array(expected[0..<256]) + Array(expected[256..<512]) + Array(expected[0..<256]))
        let x = TestSupport.random([2, count / 2], seed: 4)
        let fast = try m.multiply(x), slow = try m.multiplyReference(x)
        #expect(zip(fast.storage, slow.storage).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(type)")
        #expect(GGUFAffineCodes.layout(of: .q5_K) == nil)
    }

    /// Blocks of 16 columns (Q6_K's scales): every kernel against the reference, with offsets and a partial last block.
    @Test(arguments: [1, 3, 8, 13])
    func sixteenColumnBlocksMatchReference(rows: Int) throws {
        var rng = RNG(seed: 9)
        for bits in [4, 8] {
            let m = try PanelMatrix(affineRows: 37, columns: 70, bits: bits, blockSize: 16) { _, codes, scales, offsets in
                for k in 0..<70 { codes[k] = Int8(bits == 4 ? rng.int(below: 16) : rng.int(below: 255) - 127) }
                for b in 0..<5 { scales[b] = rng.uniform() * 0.1; offsets[b] = rng.uniform() - 0.5 }
            }
            let x = TestSupport.random([rows, 70], seed: 2)
            let fast = try m.multiply(x), slow = try m.multiplyReference(x)
            let worst = zip(fast.storage, slow.storage).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(worst < 1e-3, "bits \(bits)")
        }
        #expect(throws: TensorError.self) { try PanelMatrix(affineRows: 2, columns: 8, bits: 4, blockSize: 8) { _, _, _, _ in } }
    }

    /// Parts held in different forms (Q4_K q/k beside a Q6_K v): the stacked product is each part's in its own columns.
    @Test func stackedWeightPutsEachPartInItsColumns() throws {
        let a = TestSupport.random([20, 64], seed: 1), b = TestSupport.random([5, 64], seed: 2)
        let stacked = StackedWeight([try PanelMatrix(a, storage: .float32), try PanelMatrix.quantized8(b)])
        let x = TestSupport.random([3, 64], seed: 3)
        let y = try stacked.multiply(x)
        let ya = try PanelMatrix(a, storage: .float32).multiply(x), yb = try PanelMatrix.quantized8(b).multiply(x)
        #expect(y.shape == [3, 25])
        for r in 0..<3 {
            #expect(Array(y.storage[(r * 25)..<(r * 25 + 20)]) == Array(ya.storage[(r * 20)..<(r * 20 + 20)]))
            #expect(Array(y.storage[(r * 25 + 20)..<(r * 25 + 25)]) == Array(yb.storage[(r * 5)..<(r * 5 + 5)]))
        }
        #expect(stacked.byteCount == (try PanelMatrix(a, storage: .float32)).byteCount + (try PanelMatrix.quantized8(b)).byteCount)
    }
}
