// The bfloat16 first pass of nearest-centroid search, on Intel AMX tiles.
// With NearestCentroid.swift, the only pointer code of the core's clustering.
import CMatrixTiles

/// Approximate inner products of a row block with every centroid, in bfloat16
/// on AMX tiles (one TDPBF16PS does 8,192 multiply-adds), with a rigorous
/// bound on how far each is from the float32 dot product.
///
/// `NearestCentroid` uses it as a screen: any centroid whose approximate score
/// is more than twice the bound below the row's best cannot be the nearest, so
/// only the few within the window are scored exactly (in float32, by the same
/// operations as the full kernel). The assignment is therefore the one the
/// float32 kernel gives, bit for bit; the screen only saves work.
///
/// **The bound.** With x̃, c̃ the bfloat16-rounded row and centroid and
/// δx = x − x̃, δc = c − c̃ (norms measured exactly when rounding),
/// |x̃·c̃ − x·c| ≤ ‖δx‖‖c‖ + ‖x‖‖δc‖ + ‖δx‖‖δc‖ (Cauchy–Schwarz). Both the
/// tile's float32 accumulation and the exact kernel's multiply-add chain are
/// within γ_d·‖x̃‖‖c̃‖ of their real sums (γ_d = d·2⁻²⁴/(1 − d·2⁻²⁴)). Using
/// measured rounding norms rather than the worst case 2⁻⁸ per element halves
/// the window on real data.
struct TileScreen: CentroidScreen {
    /// Rows per call of `panelMaxima`: two 16-row tiles.
    static let rowBlock = 32
    var rowBlock: Int { Self.rowBlock }
    var scratchBytes: Int { Self.rowBlock * paddedDimension * MemoryLayout<UInt16>.stride }

    /// Centroids, and their count padded to a multiple of 32.
    let count: Int
    let paddedCount: Int
    let dimension: Int
    let paddedDimension: Int
    /// The centroids as bfloat16 tiles (layout in matrix_tiles.h).
    private let packed: [UInt16]
    /// Largest ‖c_j‖ and largest ‖δc_j‖.
    private let largestNorm: Float
    private let largestRoundingNorm: Float
    /// γ_d, padded for the rounding of the bound's own arithmetic.
    private let accumulation: Float

    /// Packs `centroids` (`k × dimension`, row-major); nil when this CPU has no AMX-BF16 tiles.
    init?(centroids: [Float], dimension d: Int) {
        guard pr_tiles_available() != 0, d > 0, !centroids.isEmpty else { return nil }
        let k = centroids.count / d
        count = k
        dimension = d
        paddedCount = (k + 31) & ~31
        paddedDimension = (d + 31) & ~31
        var packed = [UInt16](repeating: 0, count: paddedCount * paddedDimension)
        var norms = [Float](repeating: 0, count: k)
        var roundingNorms = [Float](repeating: 0, count: k)
        centroids.withUnsafeBufferPointer { c in
            packed.withUnsafeMutableBufferPointer { p in
                norms.withUnsafeMutableBufferPointer { n in
                    roundingNorms.withUnsafeMutableBufferPointer { r in
                        pr_tiles_pack(c.baseAddress!, Int32(k), Int32(d), p.baseAddress!, n.baseAddress!, r.baseAddress!)
                    }
                }
            }
        }
        self.packed = packed
        largestNorm = (norms.max() ?? 0) * 1.0001
        largestRoundingNorm = (roundingNorms.max() ?? 0) * 1.0001
        let u = Float(d) * 0x1p-24
        accumulation = u / (1 - u) * 1.01
    }

    /// Panels of 16 centroids per row of `panelMaxima` (`paddedCount / 16`).
    var panelStride: Int { paddedCount / 16 }

    /// Screens `n` ≤ 32 rows: `panelMaxima[r · panelStride + p]` is the largest
    /// approximate x_r · c_j over the centroids of panel p, `norms[r]` = ‖x_r‖
    /// and `roundingNorms[r]` = ‖δx_r‖. `scratch` holds 32 · paddedDimension bfloat16 values.
    /// The `nextCount` rows at `next` (the following call's) are prefetched
    /// meanwhile: rows arrive from the decoding thread's core, and fetching them
    /// during the tile work saved ~10% of the screen's time on cold rows.
    @inline(__always)
    func panelMaxima(rows: UnsafePointer<Float>, count n: Int, next: UnsafePointer<Float>, nextCount: Int,
                     scratch: UnsafeMutableRawPointer,
                     into panelMaxima: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                     roundingNorms: UnsafeMutablePointer<Float>) {
        precondition(n <= Self.rowBlock)
        packed.withUnsafeBufferPointer { p in
            pr_tiles_panel_maxima(rows, Int32(n), Int32(dimension), p.baseAddress!, Int32(count),
                                  scratch, panelMaxima, norms, roundingNorms, next, Int32(nextCount))
        }
    }

    /// How far any approximate score of a row with norm `rowNorm` and rounding
    /// norm `rowRoundingNorm` can be from its exact float32 dot product.
    @inline(__always)
    func errorBound(rowNorm: Float, rowRoundingNorm: Float) -> Float {
        let rounding = rowRoundingNorm * largestNorm + rowNorm * largestRoundingNorm
            + rowRoundingNorm * largestRoundingNorm
        let sums = 2 * accumulation * (rowNorm + rowRoundingNorm) * (largestNorm + largestRoundingNorm)
        return (rounding + sums) * 1.001 + 1e-6
    }
}
