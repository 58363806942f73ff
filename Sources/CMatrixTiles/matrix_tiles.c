// AMX bfloat16 tile kernel; see include/matrix_tiles.h.
#include "matrix_tiles.h"

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#define TILE_FEATURES "amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16"

static int available = 0;
static pthread_once_t probed = PTHREAD_ONCE_INIT;

static void probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    int amxBF16 = (d >> 22) & 1, amxTile = (d >> 24) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1;
    if (!amxBF16 || !amxTile || !avx512f || !avx512bw) return;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1)) return;  // AVX512_BF16
    // Linux hands out the 8 KiB tile state only on request (since 5.16).
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return;
    available = 1;
}

int pr_tiles_available(void) {
    pthread_once(&probed, probe);
    return available;
}

int pr_cpu_has_avx512f(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 16) & 1)) return 0;
    // The OS must also save the upper ZMM state (XCR0 bits 5–7), as with AMX above.
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return 0;  // OSXSAVE
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6;
}

static inline int round32(int x) { return (x + 31) & ~31; }

/// float32 → bfloat16, round to nearest even (inputs are finite).
static inline uint16_t toBF16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static inline float fromBF16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

void pr_tiles_pack(const float *centroids, int k, int d, uint16_t *packed, float *norms, float *roundingNorms) {
    int k32 = round32(k), d32 = round32(d), chunks = d32 / 32;
    memset(packed, 0, sizeof(uint16_t) * (size_t)k32 * (size_t)d32);
    for (int j = 0; j < k; j++) {
        const float *c = centroids + (size_t)j * d;
        int block = j / 16, lane = j % 16;
        double error = 0, square = 0;
        for (int t = 0; t < d; t++) {
            uint16_t h = toBF16(c[t]);
            double e = (double)c[t] - (double)fromBF16(h);
            error += e * e;
            square += (double)c[t] * c[t];
            int chunk = t / 32, pair = (t % 32) / 2, half = t % 2;
            packed[((size_t)block * chunks + chunk) * 512 + pair * 32 + lane * 2 + half] = h;
        }
        norms[j] = (float)sqrt(square);
        roundingNorms[j] = (float)sqrt(error);
    }
}

/// The palette-1 tile configuration: every tile 16 rows × 64 bytes.
struct TileConfig {
    uint8_t palette;
    uint8_t startRow;
    uint8_t reserved[14];
    uint16_t bytesPerRow[16];
    uint8_t rows[16];
} __attribute__((packed, aligned(64)));

/// Rows to bfloat16 in tile order, zero-padded to 32 rows × d32: for each
/// half (rows 0–15, 16–31) and each 32-dimension chunk, one 16 × 64-byte tile,
/// contiguous (tile loads of rows strided by a whole padded row run ~3× slower).
/// Also each row's norm and rounding norm, from the same loads.
__attribute__((target(TILE_FEATURES)))
static void roundRows(const float *rows, int n, int d, uint16_t *scratch, float *norms, float *roundingNorms) {
    int d32 = round32(d), chunks = d32 / 32;
    if (n < 32 || d < d32) memset(scratch, 0, sizeof(uint16_t) * 32 * (size_t)d32);
    for (int r = 0; r < n; r++) {
        const float *x = rows + (size_t)r * d;
        uint16_t *out = scratch + ((size_t)(r / 16) * chunks * 16 + r % 16) * 32;
        __m512 error = _mm512_setzero_ps(), square = _mm512_setzero_ps();
        for (int t = 0; t < d; t += 16) {
            __mmask16 live = d - t >= 16 ? 0xffff : (__mmask16)((1u << (d - t)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(live, x + t);
            __m256bh h = _mm512_cvtneps_pbh(v);
            _mm256_mask_storeu_epi16(out + (size_t)(t / 32) * 512 + t % 32, live, (__m256i)h);
            __m512 back = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)h), 16));
            __m512 e = _mm512_sub_ps(v, back);
            error = _mm512_fmadd_ps(e, e, error);
            square = _mm512_fmadd_ps(v, v, square);
        }
        norms[r] = sqrtf(_mm512_reduce_add_ps(square));
        roundingNorms[r] = sqrtf(_mm512_reduce_add_ps(error));
    }
}

/// Folds a 32 × 32 block of scores (rows × centroids `first`…`first + 31`,
/// row-major in `staged`) into per-row, per-panel maxima; centroids ≥ k are −∞.
__attribute__((target(TILE_FEATURES)))
static inline void foldPanels(const float *staged, int first, int k, float *panelMaxima, int panelStride) {
    __mmask16 low = first + 16 <= k ? 0xffff : (first >= k ? 0 : (__mmask16)((1u << (k - first)) - 1));
    __mmask16 high = first + 32 <= k ? 0xffff : (first + 16 >= k ? 0 : (__mmask16)((1u << (k - first - 16)) - 1));
    __m512 floor = _mm512_set1_ps(-INFINITY);
    for (int r = 0; r < 32; r++) {
        const float *row = staged + r * 32;
        panelMaxima[r * panelStride + first / 16] = _mm512_reduce_max_ps(_mm512_mask_loadu_ps(floor, low, row));
        panelMaxima[r * panelStride + first / 16 + 1] = _mm512_reduce_max_ps(_mm512_mask_loadu_ps(floor, high, row + 16));
    }
}

__attribute__((target(TILE_FEATURES)))
void pr_tiles_panel_maxima(const float *rows, int n, int d, const uint16_t *packed, int k,
                           void *scratchBytes, float *panelMaxima, float *norms, float *roundingNorms,
                           const float *next, int nextCount) {
    uint16_t *scratch = (uint16_t *)scratchBytes;
    int k32 = round32(k), d32 = round32(d), chunks = d32 / 32, panelStride = k32 / 16;
    // The next call's rows were written by another core: fetch them while the
    // tiles work, a share per centroid block pair, so its rounding does not stall.
    size_t nextLines = next ? ((size_t)nextCount * d * sizeof(float) + 63) / 64 : 0;
    size_t pairs = (size_t)k32 / 32, linesPerPair = (nextLines + pairs - 1) / pairs;
    const char *prefetched = (const char *)next;
    roundRows(rows, n, d, scratch, norms, roundingNorms);

    struct TileConfig config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int i = 0; i < 8; i++) { config.rows[i] = 16; config.bytesPerRow[i] = 64; }
    _tile_loadconfig(&config);

    // Tiles: 0–3 accumulate rows {0–15, 16–31} × centroids {16b…, 16b+16…};
    // 4–5 hold the two row halves' 32 dimensions, 6–7 the two centroid blocks'.
    // Each 32 × 32 result is staged in L1 and folded to panel maxima at once.
    float staged[32 * 32] __attribute__((aligned(64)));
    const uint16_t *top = scratch, *bottom = scratch + (size_t)chunks * 512;
    for (int block = 0; block < k32 / 16; block += 2) {
        const uint16_t *first = packed + (size_t)block * chunks * 512;
        const uint16_t *second = first + (size_t)chunks * 512;
        for (size_t line = 0; line < linesPerPair && nextLines > 0; line++, nextLines--, prefetched += 64)
            _mm_prefetch(prefetched, _MM_HINT_T0);
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int chunk = 0; chunk < chunks; chunk++) {
            _tile_loadd(4, top + (size_t)chunk * 512, 64);
            _tile_loadd(5, bottom + (size_t)chunk * 512, 64);
            _tile_loadd(6, first + (size_t)chunk * 512, 64);
            _tile_loadd(7, second + (size_t)chunk * 512, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        _tile_stored(0, staged, 128);
        _tile_stored(1, staged + 16, 128);
        _tile_stored(2, staged + 16 * 32, 128);
        _tile_stored(3, staged + 16 * 32 + 16, 128);
        foldPanels(staged, block * 16, k, panelMaxima, panelStride);
    }
    _tile_release();
}
