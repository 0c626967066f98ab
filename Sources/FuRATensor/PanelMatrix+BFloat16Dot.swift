import CKernels

// Legend: N rows of x, O rows of W (output features), I columns of W, K = ⌈I/2⌉ column pairs.

extension PanelMatrix {
    /// Whether `bfloat16Dot` products run on AVX512-BF16 instructions here (else portable C, same sums).
    public static var hasBFloat16DotInstructions: Bool { fura_cpu_has_avx512bf16() != 0 }

    /// Offset (in bf16 elements) of weight (16p + j, k) in the `bfloat16Dot` layout: panel p holds K
    /// pairs of 32 values, lane j of pair t being (w[16p + j, 2t], w[16p + j, 2t + 1]).
    @inline(__always)
    func pairIndex(_ p: Int, _ j: Int, _ k: Int) -> Int {
        ((p * (paddedColumns / 2) + k / 2) * Self.panelWidth + j) * 2 + k % 2
    }

    /// y (N, O) = bf16(x) (N, I) · Wᵀ for `bfloat16Dot`: x is rounded once into a bf16 copy, then the
    /// panels are split over threads in pairs (32 outputs per register block). `portable` takes the
    /// path of CPUs without AVX512-BF16 (for tests).
    func multiplyBFloat16Dot(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, portable: Bool = false) {
        let pairs = paddedColumns / 2, ldx = paddedColumns
        let rounded = UnsafeMutablePointer<UInt16>.allocate(capacity: n * ldx)
        defer { rounded.deallocate() }
        // SAFETY: x is (n, columns) row-major; `rounded` holds n rows of ldx ≥ columns (padding written).
        fura_bf16_round_rows(x, n, columns, columns, rounded, ldx)
        let panelPairs = (panels + 1) / 2
        let work = max(1, 32 * pairs * 2 * n)
        let weights = UnsafePointer(data.assumingMemoryBound(to: UInt16.self))
        Threading.parallelFor(panelPairs, minimumPerChunk: max(1, (1 << 18) / work)) { start, end in
            // SAFETY: panels [2·start, min(2·end, P)) of `weights` (P·K·32 values); y columns below O only.
            if portable {
                fura_bf16_panel_product_portable(weights, pairs, 2 * start, min(panels, 2 * end), rows, rounded, ldx, n, y, rows)
            } else {
                fura_bf16_panel_product(weights, pairs, 2 * start, min(panels, 2 * end), rows, rounded, ldx, n, y, rows)
            }
        }
    }
}
