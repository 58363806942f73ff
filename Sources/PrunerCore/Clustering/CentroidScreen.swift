// What a first, approximate pass of nearest-centroid search must provide, and
// which one this CPU runs (chosen by cpuid, overridable for measurements).
import CMatrixTiles


/// A cheap approximate scoring of rows against every centroid with a rigorous
/// bound on its error, so that `NearestCentroid` can rule out centroids that
/// provably are not a row's nearest and score only the rest exactly.
///
/// Contract: for every row r and centroid j, with a_j the approximate score
/// and f_j the float32 kernel's computed x_r · c_j,
/// |a_j − f_j| ≤ `errorBound(rowNorm:rowRoundingNorm:)` of that row. The
/// screen reports only per-panel (16 centroids, the kernel's panels) maxima of
/// a_j; the selection keeps every panel within twice the bound of the row's best.
protocol CentroidScreen: Sendable {
    /// Rows per `panelMaxima` call.
    var rowBlock: Int { get }
    /// Entries per row of the panel maxima.
    var panelStride: Int { get }
    /// Bytes of scratch one `panelMaxima` call needs (64-byte aligned).
    var scratchBytes: Int { get }

    /// Screens `n` ≤ `rowBlock` rows: `panelMaxima[r · panelStride + p]` is the
    /// largest approximate x_r · c_j of panel p, `norms[r]` = ‖x_r‖ and
    /// `roundingNorms[r]` the norm of x_r's quantisation error. `next` points
    /// at the following call's `nextCount` rows (a screen may prefetch them).
    func panelMaxima(rows: UnsafePointer<Float>, count n: Int, next: UnsafePointer<Float>, nextCount: Int,
                     scratch: UnsafeMutableRawPointer,
                     into panelMaxima: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                     roundingNorms: UnsafeMutablePointer<Float>)

    /// The bound on |a_j − f_j| for a row with norm `rowNorm` and rounding norm `rowRoundingNorm`.
    func errorBound(rowNorm: Float, rowRoundingNorm: Float) -> Float
}

extension NearestCentroid {
    /// The first passes `assign` can screen with. Every one gives the float32
    /// kernel's assignments and similarities bit for bit; they differ in speed
    /// and in the instructions they need.
    public enum ScreenKind: String, Sendable, CaseIterable {
        /// bfloat16 on Intel AMX tiles (Sapphire Rapids and later; `TileScreen`).
        case amxBFloat16 = "amx"
        /// int8 with AVX512-VNNI's VPDPBUSD (Ice Lake and later Xeons, Zen 4, Zen 5; `ByteScreen`).
        case vnniInt8 = "vnni"

        /// Whether this CPU (and OS) can run this screen.
        public var isSupported: Bool {
            switch self {
            case .amxBFloat16: return pr_tiles_available() != 0
            case .vnniInt8: return pr_cpu_has_avx512vnni() != 0
            }
        }

        /// The screens this CPU supports, fastest first.
        public static var supported: [ScreenKind] { allCases.filter(\.isSupported) }

        /// The screen kernels use by default: the fastest this CPU supports, or
        /// none (`KernelChoice` carries an override, e.g. from `PRUNERD_SCREEN`;
        /// results are identical either way).
        public static var preferred: ScreenKind? { supported.first }

        /// A short description for the startup log and benchmarks.
        public var summary: String {
            switch self {
            case .amxBFloat16: return "AMX bfloat16 screen"
            case .vnniInt8: return "AVX512-VNNI int8 screen"
            }
        }
    }

    /// A built screen, one case per kind (a closed set: the selection loop is
    /// specialised for each).
    enum Screen: Sendable {
        case tiles(TileScreen)
        case bytes(ByteScreen)

        init?(kind: ScreenKind, centroids: [Float], dimension: Int) {
            switch kind {
            case .amxBFloat16:
                guard let screen = TileScreen(centroids: centroids, dimension: dimension) else { return nil }
                self = .tiles(screen)
            case .vnniInt8:
                guard let screen = ByteScreen(centroids: centroids, dimension: dimension) else { return nil }
                self = .bytes(screen)
            }
        }

        var kind: ScreenKind {
            switch self {
            case .tiles: return .amxBFloat16
            case .bytes: return .vnniInt8
            }
        }
    }
}
