// Hand-written C kernels for what Swift cannot express: AVX512-BF16 dot products (vdpbf16ps),
// which multiply bf16 pairs at twice the rate of f32 FMAs. Each entry point checks the CPU at run
// time and falls back to portable C computing the same sums (bf16 operands, f32 accumulation).
#pragma once
#include <stdint.h>

/// 1 when this CPU executes AVX512-BF16 instructions, else 0.
int fura_cpu_has_avx512bf16(void);

/// Rounds x (rows, columns), rows `ldx` floats apart, to bf16 bits (nearest even; NaN stays NaN)
/// into out (rows, ldo), ldo ≥ columns rounded up to even; a padding column is written as 0.
void fura_bf16_round_rows(const float *x, long rows, long columns, long ldx, uint16_t *out, long ldo);

/// y[r, 16p + j] = Σ_k x[r, k] · w[16p + j, k] for panels p in [panelStart, panelEnd), rows r < rows.
/// `panels` holds ⌈O/16⌉ panels of `pairs` column pairs; pair t of panel p is 32 bf16 values at
/// panels + (p·pairs + t)·32, lane j holding (w[16p + j, 2t], w[16p + j, 2t + 1]). x is bf16 (rows, ldx),
/// ldx ≥ 2·pairs, with zeros past the last column. Outputs ≥ `outputs` (O) are not written.
void fura_bf16_panel_product(const uint16_t *panels, long pairs, long panelStart, long panelEnd, long outputs,
                             const uint16_t *x, long ldx, long rows, float *y, long ldy);

/// The portable twin of `fura_bf16_panel_product` (the path taken without AVX512-BF16), for tests.
void fura_bf16_panel_product_portable(const uint16_t *panels, long pairs, long panelStart, long panelEnd, long outputs,
                                      const uint16_t *x, long ldx, long rows, float *y, long ldy);
