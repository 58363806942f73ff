// Which assignment kernel the engine builds: the screen and the float32 register
// tile. Every choice gives the same assignments bit for bit; they differ in speed
// only, so the choice is a parameter, never state. The core reads no environment:
// the command line turns PRUNERD_TILES / PRUNERD_SCREEN / PRUNERD_KERNEL into a
// choice once, with `init(tiles:screen:kernel:)`, and passes it in.
import CMatrixTiles

/// The kernel shape the assignment code is built with.
public struct KernelChoice: Sendable, Equatable {
    /// The first pass that screens candidates (`nil`: float32 only).
    public var screen: NearestCentroid.ScreenKind?
    /// The float32 kernel's register tile.
    public var registerTile: NearestCentroid.RegisterTile

    public init(screen: NearestCentroid.ScreenKind?, registerTile: NearestCentroid.RegisterTile) {
        self.screen = screen
        self.registerTile = registerTile
    }

    /// The fastest this CPU supports: its best screen and the tile its vector registers fit.
    public static let fastest = KernelChoice(
        screen: NearestCentroid.ScreenKind.supported.first,
        registerTile: pr_cpu_has_avx512f() != 0 ? .wide : .narrow)

    /// The measurement overrides, as the environment variables spell them (values, not
    /// the variables: the caller reads those): `tiles` "0" means no screen; `screen`
    /// "amx", "vnni" or "none" picks one (a kind the CPU lacks falls back to the
    /// fastest); `kernel` "12x32" or "6x16" picks the tile. Anything else, or nil, keeps
    /// the fastest choice.
    public init(tiles: String?, screen: String?, kernel: String?) {
        self = .fastest
        if let kernel, let tile = NearestCentroid.RegisterTile(rawValue: kernel) { registerTile = tile }
        if tiles == "0" {
            self.screen = nil
        } else if let screen {
            if screen == "none" { self.screen = nil }
            else if let kind = NearestCentroid.ScreenKind(rawValue: screen), kind.isSupported { self.screen = kind }
        }
    }
}

extension NearestCentroid {
    /// A kernel for `centroids` built as `choice` says.
    public init(centroids: [Float], dimension: Int, kernel choice: KernelChoice) {
        self.init(centroids: centroids, dimension: dimension, screen: choice.screen, registerTile: choice.registerTile)
    }
}
