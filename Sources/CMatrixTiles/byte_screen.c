// int8 VNNI screen kernel; see include/byte_screen.h.
#include "byte_screen.h"
#include "matrix_tiles.h"

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define VNNI_FEATURES "avx512f,avx512bw,avx512vl,avx512vnni"

int pr_cpu_has_avx512vnni(void) {
    if (!pr_cpu_has_avx512f()) return 0;  // also checks that the OS saves the ZMM state
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    return avx512bw && avx512vl && vnni;
}

static inline int quadsOf(int d) { return (d + 3) / 4; }

/// Quadruples of dimensions staged per pass of `pr_bytes_pack`: 16 lanes × 256 bytes.
#define PACK_CHUNK 64

/// Adds `e`'s 16 float lanes, widened to double, squared into two double accumulators.
__attribute__((target(VNNI_FEATURES)))
static inline void addSquares(__m512 e, __m512d *sum) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(e));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1)));
    sum[0] = _mm512_fmadd_pd(lo, lo, sum[0]);
    sum[1] = _mm512_fmadd_pd(hi, hi, sum[1]);
}

// One panel of 16 centroids at a time: each centroid quantised 16 dimensions per
// instruction into a row-major staging block, then the block transposed into the
// panel's layout with one gather per 4 dimensions (a centroid's 4 bytes are one
// int32 lane). The packing was scalar and a sixth of `--update online`'s CPU.
__attribute__((target(VNNI_FEATURES)))
void pr_bytes_pack(const float *centroids, int k, int d, uint8_t *packed, float *scales,
                   float *norms, float *roundingNorms) {
    int panels = (k + 15) / 16, quads = quadsOf(d);
    uint8_t staging[16 * PACK_CHUNK * 4] __attribute__((aligned(64)));
    const __m512i rowStarts = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(PACK_CHUNK));
    const __m512 lowest = _mm512_set1_ps(-127.0f), highest = _mm512_set1_ps(127.0f);
    for (int p = 0; p < panels; p++) {
        int m = k - p * 16 < 16 ? k - p * 16 : 16;
        float inverse[16] = {0};
        __m512d error[16][2], square[16][2];
        for (int l = 0; l < 16; l++) scales[p * 16 + l] = 0;
        for (int l = 0; l < m; l++) {
            const float *c = centroids + (size_t)(p * 16 + l) * d;
            __m512 largest = _mm512_setzero_ps();
            for (int t = 0; t < d; t += 16) {
                __mmask16 live = d - t >= 16 ? 0xffff : (__mmask16)((1u << (d - t)) - 1);
                largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(live, c + t)));
            }
            float top = _mm512_reduce_max_ps(largest);
            scales[p * 16 + l] = top > 0 ? top / 127.0f : 0.0f;
            inverse[l] = top > 0 ? 127.0f / top : 0.0f;
            error[l][0] = error[l][1] = square[l][0] = square[l][1] = _mm512_setzero_pd();
        }
        for (int g0 = 0; g0 < quads; g0 += PACK_CHUNK) {
            int gn = quads - g0 < PACK_CHUNK ? quads - g0 : PACK_CHUNK;
            int end = (g0 + gn) * 4 < d ? (g0 + gn) * 4 : d;
            memset(staging, 128, sizeof staging);  // padding lanes and dimensions: q = 0
            for (int l = 0; l < m; l++) {
                const float *c = centroids + (size_t)(p * 16 + l) * d;
                __m512 vInverse = _mm512_set1_ps(inverse[l]);
                __m512 vScale = _mm512_set1_ps(scales[p * 16 + l]);
                for (int t = g0 * 4; t < end; t += 16) {
                    __mmask16 live = end - t >= 16 ? 0xffff : (__mmask16)((1u << (end - t)) - 1);
                    __m512 v = _mm512_maskz_loadu_ps(live, c + t);
                    // rint (round to nearest even, as rintf under the default mode), then saturate.
                    __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(v, vInverse), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                    q = _mm512_min_ps(_mm512_max_ps(q, lowest), highest);
                    __m128i bytes = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(q), _mm512_set1_epi32(128)));
                    _mm_mask_storeu_epi8(staging + l * PACK_CHUNK * 4 + (t - g0 * 4), live, bytes);
                    // c − s·q in double: s·q has at most 24 + 8 significant bits, so it is exact
                    // and the difference rounds once, as in float64 arithmetic.
                    __m512d cLo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
                    __m512d cHi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
                    __m512d qLo = _mm512_cvtps_pd(_mm512_castps512_ps256(q));
                    __m512d qHi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(q), 1)));
                    __m512d s = _mm512_cvtps_pd(_mm512_castps512_ps256(vScale));
                    __m512d eLo = _mm512_fnmadd_pd(s, qLo, cLo), eHi = _mm512_fnmadd_pd(s, qHi, cHi);
                    error[l][0] = _mm512_fmadd_pd(eLo, eLo, error[l][0]);
                    error[l][1] = _mm512_fmadd_pd(eHi, eHi, error[l][1]);
                    addSquares(v, square[l]);
                }
            }
            for (int g = 0; g < gn; g++) {
                __m512i column = _mm512_i32gather_epi32(_mm512_add_epi32(rowStarts, _mm512_set1_epi32(g)), staging, 4);
                _mm512_store_si512(packed + ((size_t)p * quads + g0 + g) * 64, column);
            }
        }
        for (int l = 0; l < m; l++) {
            norms[p * 16 + l] = (float)sqrt(_mm512_reduce_add_pd(_mm512_add_pd(square[l][0], square[l][1])));
            roundingNorms[p * 16 + l] = (float)sqrt(_mm512_reduce_add_pd(_mm512_add_pd(error[l][0], error[l][1])));
        }
    }
}

/// Quantises `m` ≤ 12 rows into one register tile: per group of 4 dimensions,
/// the 12 rows' 4 signed bytes as consecutive int32 (`tile[g · 12 + r]`), rows
/// m…11 zero. Per row: its scale, 128 · Σq (the unsigned centroid bytes'
/// offset to take back), ‖x‖ and ‖x − s·q‖.
__attribute__((target(VNNI_FEATURES)))
static void quantiseRows(const float *rows, int m, int d, int32_t *tile, float *rowScales, int32_t *offsets,
                         float *norms, float *roundingNorms) {
    int quads = quadsOf(d);
    memset(tile, 0, sizeof(int32_t) * PR_BYTES_ROW_TILE * (size_t)quads);
    for (int r = m; r < PR_BYTES_ROW_TILE; r++) { rowScales[r] = 0; offsets[r] = 0; }
    for (int r = 0; r < m; r++) {
        const float *x = rows + (size_t)r * d;
        __m512 largest = _mm512_setzero_ps();
        for (int t = 0; t < d; t += 16) {
            __mmask16 live = d - t >= 16 ? 0xffff : (__mmask16)((1u << (d - t)) - 1);
            largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(live, x + t)));
        }
        float top = _mm512_reduce_max_ps(largest);
        float scale = top > 0 ? top / 127.0f : 0.0f, inverse = top > 0 ? 127.0f / top : 0.0f;
        __m512 vScale = _mm512_set1_ps(scale), vInverse = _mm512_set1_ps(inverse);
        __m512 error = _mm512_setzero_ps(), square = _mm512_setzero_ps();
        __m512i sum = _mm512_setzero_si512();
        for (int t = 0; t < d; t += 16) {
            __mmask16 live = d - t >= 16 ? 0xffff : (__mmask16)((1u << (d - t)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(live, x + t);
            // Round to nearest (MXCSR default), saturate to int8: the bound below is
            // measured from the q actually stored, so any rounding would be sound.
            __m128i bytes = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v, vInverse)));
            __m512i q = _mm512_cvtepi8_epi32(bytes);
            __m512 e = _mm512_fnmadd_ps(vScale, _mm512_cvtepi32_ps(q), v);  // x − s·q, one rounding
            error = _mm512_fmadd_ps(e, e, error);
            square = _mm512_fmadd_ps(v, v, square);
            sum = _mm512_add_epi32(sum, q);
            int32_t groups[4];
            _mm_storeu_si128((__m128i *)groups, bytes);
            for (int g = 0; g < 4 && t / 4 + g < quads; g++) tile[(size_t)(t / 4 + g) * PR_BYTES_ROW_TILE + r] = groups[g];
        }
        rowScales[r] = scale;
        offsets[r] = 128 * _mm512_reduce_add_epi32(sum);
        norms[r] = sqrtf(_mm512_reduce_add_ps(square));
        roundingNorms[r] = sqrtf(_mm512_reduce_add_ps(error));
    }
}

static inline __mmask16 liveLanes(int k, int panel) {
    int left = k - panel * 16;
    return left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
}

#define ROWS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/// One quantised 12-row tile against every panel: two panels at a time in 24
/// int32 accumulators (per 4 dimensions: two panel loads, twelve broadcasts,
/// 24 VPDPBUSD of 64 multiply-adds each), then each (row, panel)'s scores
/// scaled and reduced to the panel maximum.
__attribute__((target(VNNI_FEATURES)))
static void scoreTile(const int32_t *tile, int quads, const uint8_t *packed, const float *scales, int k,
                      const float *rowScales, const int32_t *offsets, int m, float *panelMaxima) {
    int panels = (k + 15) / 16;
    int p = 0;
    for (; p + 1 < panels; p += 2) {
        const uint8_t *pa = packed + (size_t)p * quads * 64, *pb = pa + (size_t)quads * 64;
#define ZERO2(r) __m512i a##r = _mm512_setzero_si512(), b##r = _mm512_setzero_si512();
        ROWS12(ZERO2)
        const int32_t *x = tile;
        for (int g = 0; g < quads; g++, x += PR_BYTES_ROW_TILE) {
            __m512i va = _mm512_load_si512(pa + (size_t)g * 64), vb = _mm512_load_si512(pb + (size_t)g * 64);
#define STEP2(r) { __m512i xr = _mm512_set1_epi32(x[r]); \
                   a##r = _mm512_dpbusd_epi32(a##r, va, xr); b##r = _mm512_dpbusd_epi32(b##r, vb, xr); }
            ROWS12(STEP2)
        }
        __m512 sa = _mm512_loadu_ps(scales + p * 16), sb = _mm512_loadu_ps(scales + p * 16 + 16);
        __mmask16 la = liveLanes(k, p), lb = liveLanes(k, p + 1);
#define FOLD2(r) if (r < m) { \
            __m512 s = _mm512_set1_ps(rowScales[r]); __m512i o = _mm512_set1_epi32(offsets[r]); \
            __m512 fa = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a##r, o)), _mm512_mul_ps(s, sa)); \
            __m512 fb = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(b##r, o)), _mm512_mul_ps(s, sb)); \
            panelMaxima[r * panels + p] = _mm512_mask_reduce_max_ps(la, fa); \
            panelMaxima[r * panels + p + 1] = _mm512_mask_reduce_max_ps(lb, fb); }
        ROWS12(FOLD2)
    }
    if (p < panels) {
        const uint8_t *pa = packed + (size_t)p * quads * 64;
#define ZERO1(r) __m512i a##r = _mm512_setzero_si512();
        ROWS12(ZERO1)
        const int32_t *x = tile;
        for (int g = 0; g < quads; g++, x += PR_BYTES_ROW_TILE) {
            __m512i va = _mm512_load_si512(pa + (size_t)g * 64);
#define STEP1(r) a##r = _mm512_dpbusd_epi32(a##r, va, _mm512_set1_epi32(x[r]));
            ROWS12(STEP1)
        }
        __m512 sa = _mm512_loadu_ps(scales + p * 16);
        __mmask16 la = liveLanes(k, p);
#define FOLD1(r) if (r < m) { \
            __m512 s = _mm512_set1_ps(rowScales[r]); __m512i o = _mm512_set1_epi32(offsets[r]); \
            __m512 fa = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a##r, o)), _mm512_mul_ps(s, sa)); \
            panelMaxima[r * panels + p] = _mm512_mask_reduce_max_ps(la, fa); }
        ROWS12(FOLD1)
    }
}

__attribute__((target(VNNI_FEATURES)))
void pr_bytes_panel_maxima(const float *rows, int n, int d, const uint8_t *packed, const float *scales, int k,
                           void *scratch, float *panelMaxima, float *norms, float *roundingNorms) {
    int quads = quadsOf(d), panels = (k + 15) / 16;
    int32_t *tile = (int32_t *)scratch;
    float rowScales[PR_BYTES_ROW_TILE];
    int32_t offsets[PR_BYTES_ROW_TILE];
    for (int start = 0; start < n; start += PR_BYTES_ROW_TILE) {
        int m = n - start < PR_BYTES_ROW_TILE ? n - start : PR_BYTES_ROW_TILE;
        quantiseRows(rows + (size_t)start * d, m, d, tile, rowScales, offsets, norms + start, roundingNorms + start);
        scoreTile(tile, quads, packed, scales, k, rowScales, offsets, m, panelMaxima + (size_t)start * panels);
    }
}
