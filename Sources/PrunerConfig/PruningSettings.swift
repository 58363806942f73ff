// The DBP options of `serve`, `offline` and `fidelity` from the command line over
// the configuration file over the built-in defaults; also what a SIGHUP reloads.
import PrunerCore

extension PruningOptions {
    /// The options of these layers, validated.
    /// - Throws: `SettingsError.config` for a mistyped file value, `.invalid` for a value out of range.
    public init(layers: SettingsLayers) throws(SettingsError) {
        self.init()
        keepRatio = try layers.resolved(ServeOptions.keepRatio)
        clusters = try layers.resolved(ServeOptions.clusters)
        temperature = try layers.resolved(ServeOptions.temperature)
        neighbors = try layers.resolved(ServeOptions.neighbors)
        minPerCluster = try layers.resolved(ServeOptions.minPerCluster)
        keep = try layers.resolved(ServeOptions.keep)
        seed = try layers.resolved(ServeOptions.seed)
        kmeansIterations = try layers.resolved(ServeOptions.kmeansIterations)
        warmup = try layers.value(ServeOptions.warmup) ?? PruningOptions.defaultWarmup(clusters: clusters)
        recomputeEvery = try layers.resolved(ServeOptions.recomputeEvery)
        update = try layers.resolved(ServeOptions.update)
        lookahead = try layers.resolved(ServeOptions.lookahead)
        dedupThreshold = try layers.resolved(ServeOptions.dedupThreshold)
        dedupMemory = try layers.resolved(ServeOptions.dedupMemory)
        minScore = try layers.value(ServeOptions.minScore) ?? minScore
        halfLife = try layers.resolved(ServeOptions.halfLife)
        spawnAfter = try layers.resolved(ServeOptions.spawnAfter)
        driftQuantile = try layers.resolved(ServeOptions.driftQuantile)
        do { try validate() } catch { throw .invalid(error.inOptionNames) }
    }
}
