// The int8 first pass of nearest-centroid search, on AVX512-VNNI.
// With NearestCentroid.swift and TileScreen.swift, the only pointer code of the core's clustering.
import CMatrixTiles

/// Approximate inner products of rows with every centroid in int8 with
/// VPDPBUSD (64 multiply-adds per instruction, 4× an FMA's), for CPUs without
/// AMX tiles, with a rigorous bound on the distance to the float32 kernel's
/// dot products (see `CentroidScreen`).
///
/// **Quantisation.** Each centroid is stored as q_c ∈ [−127, 127] with its own
/// scale s_c (c̃ = s_c q_c, s_c = max|c|/127), each row as q_x ∈ [−128, 127]
/// with s_x; the integer dot product q_x · q_c is exact (int32 cannot
/// overflow up to `largestDimension`, 65,793), so the screen's only arithmetic error is the
/// scaling fl(fl(I) · fl(s_x s_c)): three roundings, ≤ 4u‖x̃‖‖c̃‖ (u = 2⁻²⁴).
///
/// **The bound.** With δx = x − x̃, δc = c − c̃ (their norms measured when
/// quantising), x·c − x̃·c̃ = δx·c + x·δc − δx·δc, so by Cauchy–Schwarz
/// |x̃·c̃ − x·c| ≤ ‖δx‖‖c‖ + ‖x‖‖δc‖ + ‖δx‖‖δc‖. The float32 kernel's own
/// multiply-add chain is within γ_{d+1}‖x‖‖c‖ of x·c. The sum of the three is
/// the bound, with ‖c‖ and ‖δc‖ at their largest over the centroids. It is
/// ~5× the bfloat16 screen's (int8 keeps ~7 bits of a unit vector's entries
/// to bfloat16's 8 bits of each), which on real embeddings keeps ~1.5–2
/// panels per row instead of ~1.1 (docs/performance.md).
struct ByteScreen: CentroidScreen {
    /// Rows per call: four 12-row register tiles, a divisor of the screened chunk.
    let rowBlock = 4 * Int(PR_BYTES_ROW_TILE)
    let count: Int
    let dimension: Int
    let panelStride: Int
    var scratchBytes: Int { Int(PR_BYTES_ROW_TILE) * ((dimension + 3) / 4) * 4 }
    /// The centroids' bytes and scales (layout in byte_screen.h), never written after init.
    private let storage: Storage
    /// Per centroid ‖c_j‖ and ‖δc_j‖ (kept so that `updating` can repack some panels only).
    private let norms: [Float]
    private let roundingNorms: [Float]
    /// Largest ‖c_j‖ and largest ‖δc_j‖, padded for their own rounding.
    private let largestNorm: Float
    private let largestRoundingNorm: Float
    /// γ_{d+1} for the float32 kernel's chain, padded for the bound's own arithmetic.
    private let accumulation: Float

    /// The largest dimension whose int32 sums cannot overflow: |Σ q_x (q_c + 128)| ≤ 128 · 255 · d.
    static let largestDimension = Int(Int32.max) / (128 * 255)

    /// Quantises `centroids` (`k × dimension`, row-major); nil when this CPU lacks AVX512-VNNI
    /// or `d` exceeds `largestDimension` (the float32 kernel alone then runs).
    init?(centroids: [Float], dimension d: Int) {
        guard pr_cpu_has_avx512vnni() != 0, d > 0, d <= Self.largestDimension, !centroids.isEmpty else { return nil }
        let k = centroids.count / d
        count = k
        dimension = d
        panelStride = (k + 15) / 16
        let storage = Storage(packedBytes: panelStride * ((d + 3) / 4) * 64, scales: panelStride * 16)
        self.storage = storage
        var norms = [Float](repeating: 0, count: k)
        var roundingNorms = [Float](repeating: 0, count: k)
        centroids.withUnsafeBufferPointer { c in
            norms.withUnsafeMutableBufferPointer { n in
                roundingNorms.withUnsafeMutableBufferPointer { r in
                    pr_bytes_pack(c.baseAddress!, Int32(k), Int32(d), storage.packed, storage.scales,
                                  n.baseAddress!, r.baseAddress!)
                }
            }
        }
        self.norms = norms
        self.roundingNorms = roundingNorms
        largestNorm = (norms.max() ?? 0) * 1.0001
        largestRoundingNorm = (roundingNorms.max() ?? 0) * 1.0001
        let u = Float(d + 1) * 0x1p-24
        accumulation = u / (1 - u) * 1.01
    }

    /// This screen with the panels `changed` (of 16 centroids) quantised again from `centroids`
    /// (same k and d) and the others copied: byte for byte what `init` would build, for a
    /// fraction of the work when online moves changed a few centroids (packing all k was a
    /// quarter of `--update online`'s CPU).
    func updating(centroids: [Float], changedPanels changed: [Int]) -> ByteScreen {
        let d = dimension, k = count, quads = (d + 3) / 4
        let storage = Storage(packedBytes: panelStride * quads * 64, scales: panelStride * 16)
        storage.packed.update(from: self.storage.packed, count: panelStride * quads * 64)
        storage.scales.update(from: self.storage.scales, count: panelStride * 16)
        var norms = self.norms, roundingNorms = self.roundingNorms
        centroids.withUnsafeBufferPointer { c in
            norms.withUnsafeMutableBufferPointer { n in
                roundingNorms.withUnsafeMutableBufferPointer { r in
                    for p in changed {
                        let first = p * 16, m = min(16, k - first)
                        pr_bytes_pack(c.baseAddress! + first * d, Int32(m), Int32(d), storage.packed + p * quads * 64,
                                      storage.scales + first, n.baseAddress! + first, r.baseAddress! + first)
                    }
                }
            }
        }
        return ByteScreen(count: k, dimension: d, panelStride: panelStride, storage: storage, norms: norms,
                          roundingNorms: roundingNorms, accumulation: accumulation)
    }

    private init(count: Int, dimension: Int, panelStride: Int, storage: Storage, norms: [Float], roundingNorms: [Float],
                 accumulation: Float) {
        self.count = count
        self.dimension = dimension
        self.panelStride = panelStride
        self.storage = storage
        self.norms = norms
        self.roundingNorms = roundingNorms
        largestNorm = (norms.max() ?? 0) * 1.0001
        largestRoundingNorm = (roundingNorms.max() ?? 0) * 1.0001
        self.accumulation = accumulation
    }

    @inline(__always)
    func panelMaxima(rows: UnsafePointer<Float>, count n: Int, next: UnsafePointer<Float>, nextCount: Int,
                     scratch: UnsafeMutableRawPointer,
                     into panelMaxima: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                     roundingNorms: UnsafeMutablePointer<Float>) {
        precondition(n <= rowBlock)
        pr_bytes_panel_maxima(rows, Int32(n), Int32(dimension), storage.packed, storage.scales, Int32(count),
                              scratch, panelMaxima, norms, roundingNorms)
    }

    @inline(__always)
    func errorBound(rowNorm: Float, rowRoundingNorm: Float) -> Float {
        let rounding = rowRoundingNorm * largestNorm + rowNorm * largestRoundingNorm
            + rowRoundingNorm * largestRoundingNorm
        let exactChain = accumulation * rowNorm * largestNorm
        let scaling = 4 * 0x1p-24 * (rowNorm + rowRoundingNorm) * (largestNorm + largestRoundingNorm)
        return (rounding + exactChain + scaling) * 1.001 + 1e-6
    }

    /// 64-byte aligned centroid bytes (VPDPBUSD's full-line loads) and scales.
    private final class Storage: @unchecked Sendable {
        let packed: UnsafeMutablePointer<UInt8>
        let scales: UnsafeMutablePointer<Float>

        init(packedBytes: Int, scales count: Int) {
            packed = UnsafeMutableRawPointer.allocate(byteCount: packedBytes, alignment: 64)
                .bindMemory(to: UInt8.self, capacity: packedBytes)
            scales = UnsafeMutablePointer<Float>.allocate(capacity: count)
        }

        deinit {
            packed.deallocate()
            scales.deallocate()
        }
    }
}
