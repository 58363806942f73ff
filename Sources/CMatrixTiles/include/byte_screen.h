// int8 dot products (AVX512-VNNI) for screening nearest-centroid candidates on
// CPUs without AMX tiles: Ice Lake and later Xeons, AMD Zen 4 and Zen 5.
//
// C because Swift has no VNNI intrinsics. Compiled with target attributes, so
// the package builds for any x86-64 CPU; callers check `pr_cpu_has_avx512vnni`
// first. Pure computation over caller-owned buffers; the screen's error bound is
// derived in Sources/PrunerCore/Clustering/ByteScreen.swift and docs/design.md.
#ifndef PRUNERD_BYTE_SCREEN_H
#define PRUNERD_BYTE_SCREEN_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has AVX-512F, BW, VL and VNNI and the OS saves the ZMM
/// state; otherwise 0.
int pr_cpu_has_avx512vnni(void);

/// Rows per register tile of `pr_bytes_panel_maxima` (its scratch is sized by it).
#define PR_BYTES_ROW_TILE 12

/// Quantises `k` centroids of dimension `d` (row-major float32) to int8 with one
/// scale per centroid, `c ≈ scales[j] · q` with q ∈ [−127, 127], and stores
/// q + 128 as unsigned bytes in the layout VPDPBUSD reads: panels of 16
/// centroids, per panel and per group of 4 dimensions 64 bytes (centroid lane l
/// at bytes 4l…4l+3). `packed` holds ceil(k/16) · ceil(d/4) · 64 bytes (64-byte
/// aligned); `scales` ceil(k/16) · 16 values (0 for padding lanes). `norms[j]`
/// receives ‖c_j‖ and `roundingNorms[j]` ‖c_j − scales[j]·q_j‖ (in double).
void pr_bytes_pack(const float *centroids, int k, int d, uint8_t *packed, float *scales,
                   float *norms, float *roundingNorms);

/// For `n` rows (row-major float32, dimension `d`): per row and per panel of 16
/// centroids the largest approximate inner product, `panelMaxima[r · stride + p]`
/// with stride = ceil(k/16). Each row is quantised to int8 with its own scale
/// (`x ≈ s · q`); the integer dot products are exact (int32), and each score is
/// fl(fl(I) · fl(s · scales[j])). `norms[r]` receives ‖x_r‖ and
/// `roundingNorms[r]` ‖x_r − s·q_r‖, both summed in float32. `scratch` holds
/// PR_BYTES_ROW_TILE · ceil(d/4) · 4 bytes.
void pr_bytes_panel_maxima(const float *rows, int n, int d, const uint8_t *packed, const float *scales, int k,
                           void *scratch, float *panelMaxima, float *norms, float *roundingNorms);

#endif
