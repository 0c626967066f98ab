import FuRATensor
import FuRATestSupport
import Testing

@Suite struct BFloat16MatrixTests {
    @Test(arguments: [1, 3, 4, 5, 37])
    func multiplyMatchesReference(rows: Int) throws {
        let w = TestSupport.random([300, 77], seed: 1)
        let x = TestSupport.random([rows, 77], seed: 2)
        let m = try BFloat16Matrix(w)
        let fast = try m.multiply(x), slow = try m.multiplyReference(x)
        #expect(fast.shape == [rows, 300])
        let worst = zip(fast.storage, slow.storage).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(worst < 1e-4)
        // The reference itself is x·Wᵀ with W rounded to bf16 (relative error ≤ 2⁻⁸ per weight).
        let exact = try Tensor.matmul(x, w, transposeB: true)
        let scale = exact.storage.reduce(Float(0)) { max($0, abs($1)) }
        #expect(zip(exact.storage, slow.storage).allSatisfy { abs($0 - $1) < 0.02 * scale })
        #expect(try m.widened().storage == w.storage.map { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: $0)) })
    }

    @Test func wrongWidthThrows() throws {
        let m = try BFloat16Matrix(TestSupport.random([4, 8], seed: 1))
        #expect(throws: TensorError.self) { try m.multiply(TestSupport.random([2, 7], seed: 2)) }
    }
}
