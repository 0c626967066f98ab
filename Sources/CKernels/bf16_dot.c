// Legend: R rows of x, O outputs (rows of W), K pairs of input columns, P panels of 16 outputs.
#include "CKernels.h"
#include <immintrin.h>
#include <string.h>

int fura_cpu_has_avx512bf16(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return known;
}

static inline uint16_t round_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

static inline float widen_bf16(uint16_t bits) {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---- AVX512-BF16 path -------------------------------------------------------------------------

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// 32 floats per instruction (VCVTNE2PS2BF16: nearest even; inputs below the normal range read as 0).
BF16_TARGET static void round_row_avx512(const float *src, long columns, uint16_t *dst) {
    long k = 0;
    for (; k + 32 <= columns; k += 32) {
        __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + k + 16), _mm512_loadu_ps(src + k));
        _mm512_storeu_si512((void *)(dst + k), (__m512i)h);
    }
    for (; k < columns; k++) dst[k] = round_bf16(src[k]);
}

void fura_bf16_round_rows(const float *x, long rows, long columns, long ldx, uint16_t *out, long ldo) {
    int fast = fura_cpu_has_avx512bf16();
    for (long r = 0; r < rows; r++) {
        const float *src = x + r * ldx;
        uint16_t *dst = out + r * ldo;
        if (fast) {
            round_row_avx512(src, columns, dst);
        } else {
            for (long k = 0; k < columns; k++) dst[k] = round_bf16(src[k]);
        }
        if (columns % 2 == 1) dst[columns] = 0;
    }
}

// Rows×(16·W) block: `rows` ≤ 8 rows of x against W ≤ 2 adjacent panels; acc[r][c] sums pairs.
// Inlined with constant rows and width so the accumulators live in registers.
// `stride` is the panel's whole pair count (the next panel starts stride·32 values on); `pairs` ≤ stride of them are
// summed here (one K slice); `accumulate` adds the sums to y instead of storing them.
BF16_TARGET static inline __attribute__((always_inline))
void block(const uint16_t *p0, long pairs, long stride, const uint16_t *x, long ldx, float *y, long ldy,
           int rows, int width, __mmask16 last, int accumulate) {
    __m512 acc[8][2];
    for (int r = 0; r < rows; r++) for (int c = 0; c < width; c++) acc[r][c] = _mm512_setzero_ps();
    const uint16_t *p1 = p0 + stride * 32;
    for (long t = 0; t < pairs; t++) {
        __m512bh w0 = (__m512bh)_mm512_load_si512((const void *)(p0 + t * 32));
        __m512bh w1 = width > 1 ? (__m512bh)_mm512_load_si512((const void *)(p1 + t * 32)) : w0;
        for (int r = 0; r < rows; r++) {
            uint32_t pair;
            memcpy(&pair, x + r * ldx + 2 * t, 4);
            __m512bh b = (__m512bh)_mm512_set1_epi32((int)pair);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], b, w0);
            if (width > 1) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], b, w1);
        }
    }
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < width; c++) {
            __mmask16 m = c == width - 1 ? last : (__mmask16)0xFFFF;
            float *out = y + r * ldy + 16 * c;
            __m512 v = accumulate ? _mm512_add_ps(acc[r][c], _mm512_maskz_loadu_ps(m, out)) : acc[r][c];
            _mm512_mask_storeu_ps(out, m, v);
        }
    }
}

BF16_TARGET static void rows_block(const uint16_t *p0, long pairs, long stride, const uint16_t *x, long ldx, float *y, long ldy,
                                   long rows, int width, __mmask16 last, int accumulate) {
    long r = 0;
    for (; r + 8 <= rows; r += 8) block(p0, pairs, stride, x + r * ldx, ldx, y + r * ldy, ldy, 8, width, last, accumulate);
    if (r + 4 <= rows) { block(p0, pairs, stride, x + r * ldx, ldx, y + r * ldy, ldy, 4, width, last, accumulate); r += 4; }
    if (r + 2 <= rows) { block(p0, pairs, stride, x + r * ldx, ldx, y + r * ldy, ldy, 2, width, last, accumulate); r += 2; }
    if (r < rows) block(p0, pairs, stride, x + r * ldx, ldx, y + r * ldy, ldy, 1, width, last, accumulate);
}

// Pairs summed per pass: two panels' slices (2 · 2048 · 64 bytes = 256 KB) stay in L2 while a chunk of rows goes by;
// a longer inner dimension (the LM head's input gradient, K = V/2) is summed in slices, each added to y.
#define K_SLICE 2048

// Rows in chunks that stay in L2 while every panel pair of the range streams by.
BF16_TARGET static void product_avx512(const uint16_t *panels, long pairs, long panelStart, long panelEnd, long outputs,
                                       const uint16_t *x, long ldx, long rows, float *y, long ldy) {
    const long chunk = 256;
    for (long r0 = 0; r0 < rows; r0 += chunk) {
        long n = rows - r0 < chunk ? rows - r0 : chunk;
        for (long k0 = 0; k0 < pairs; k0 += K_SLICE) {
            long slice = pairs - k0 < K_SLICE ? pairs - k0 : K_SLICE;
            for (long p = panelStart; p < panelEnd; p += 2) {
                int width = p + 1 < panelEnd ? 2 : 1;
                long end = 16 * (p + width);
                long valid = outputs - 16 * (p + width - 1);     // lanes of the last panel that exist
                __mmask16 last = end <= outputs ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1u);
                rows_block(panels + (p * pairs + k0) * 32, slice, pairs, x + r0 * ldx + 2 * k0, ldx, y + r0 * ldy + 16 * p, ldy,
                           n, width, last, k0 > 0);
            }
        }
    }
}

// ---- Portable path (same sums, one product at a time) ------------------------------------------

void fura_bf16_panel_product_portable(const uint16_t *panels, long pairs, long panelStart, long panelEnd, long outputs,
                             const uint16_t *x, long ldx, long rows, float *y, long ldy) {
    for (long r = 0; r < rows; r++) {
        for (long p = panelStart; p < panelEnd; p++) {
            for (long j = 0; j < 16 && 16 * p + j < outputs; j++) {
                float acc = 0;
                for (long t = 0; t < pairs; t++) {
                    const uint16_t *w = panels + (p * pairs + t) * 32 + 2 * j;
                    acc += widen_bf16(x[r * ldx + 2 * t + 1]) * widen_bf16(w[1]);
                    acc += widen_bf16(x[r * ldx + 2 * t]) * widen_bf16(w[0]);
                }
                y[r * ldy + 16 * p + j] = acc;
            }
        }
    }
}

void fura_bf16_panel_product(const uint16_t *panels, long pairs, long panelStart, long panelEnd, long outputs,
                             const uint16_t *x, long ldx, long rows, float *y, long ldy) {
    if (rows <= 0 || panelEnd <= panelStart) return;
    if (fura_cpu_has_avx512bf16()) {
        product_avx512(panels, pairs, panelStart, panelEnd, outputs, x, ldx, rows, y, ldy);
    } else {
        fura_bf16_panel_product_portable(panels, pairs, panelStart, panelEnd, outputs, x, ldx, rows, y, ldy);
    }
}
