// bfloat16 matrix tiles (Intel AMX) for screening nearest-centroid candidates,
// and the CPU probe that picks the float32 kernel's register tile.
//
// The only C of prunerd's algorithm: Swift cannot issue AMX instructions. Every
// function here is pure computation over caller-owned buffers; the layouts are
// described once, below, and in Sources/PrunerCore/Clustering/TileScreen.swift.
#ifndef PRUNERD_MATRIX_TILES_H
#define PRUNERD_MATRIX_TILES_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has AMX-BF16 and AVX512-BF16 and the kernel granted this
/// process the tile state (asked once, thread-safe); otherwise 0.
int pr_tiles_available(void);

/// 1 when this CPU has AVX-512F (32 vector registers of 16 floats), which
/// decides the float32 kernel's register tile; otherwise 0 (e.g. AVX2: 16
/// registers of 8 floats).
int pr_cpu_has_avx512f(void);

/// Packs `k` centroids of dimension `d` (row-major float32) as bfloat16 tiles:
/// blocks of 16 centroids × 32 dimensions, each 16 rows of dimension pairs
/// (the layout TDPBF16PS reads), zero-padded to round32(k) × round32(d).
/// `packed` holds round32(k) · round32(d) values. `norms[j]` receives ‖c_j‖ and
/// `roundingNorms[j]` ‖c_j − bf16(c_j)‖, which the screen's bound needs.
void pr_tiles_pack(const float *centroids, int k, int d, uint16_t *packed, float *norms, float *roundingNorms);

/// For `n` ≤ 32 rows (row-major float32, dimension `d`): per row and per
/// panel of 16 centroids, the largest approximate inner product,
/// `panelMaxima[r · round32(k)/16 + p]` (padding centroids count as −∞). The
/// rows are rounded to bfloat16 in `scratch` (32 · round32(d) values);
/// `norms[r]` receives ‖x_r‖ and `roundingNorms[r]` ‖x_r − bf16(x_r)‖. Products
/// are exact and summed in float32. `next` (may be NULL) points at the
/// `nextCount` rows of the following call, which are prefetched meanwhile.
void pr_tiles_panel_maxima(const float *rows, int n, int d, const uint16_t *packed, int k,
                           void *scratch, float *panelMaxima, float *norms, float *roundingNorms,
                           const float *next, int nextCount);

#endif
