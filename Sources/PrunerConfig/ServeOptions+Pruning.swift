// The option table's side of the core's names: each field of PruningOptions
// (`PruningSetting`) to its row, so the core's errors come out in option names,
// and what a SIGHUP reload changed, from the rows that say they are live.
import PrunerCore
import PrunerDaemon

extension ServeOptions {
    /// The row of a field of PruningOptions (exhaustive: a new field cannot go without its option).
    public static func option(for setting: PruningSetting) -> ServeOption {
        switch setting {
        case .keepRatio: return keepRatio.option
        case .clusters: return clusters.option
        case .temperature: return temperature.option
        case .neighbors: return neighbors.option
        case .minPerCluster: return minPerCluster.option
        case .keep: return keep.option
        case .seed: return seed.option
        case .kmeansIterations: return kmeansIterations.option
        case .warmup: return warmup.option
        case .recomputeEvery: return recomputeEvery.option
        case .update: return update.option
        case .lookahead: return lookahead.option
        case .dedupThreshold: return dedupThreshold.option
        case .dedupMemory: return dedupMemory.option
        case .minScore: return minScore.option
        case .halfLife: return halfLife.option
        case .spawnAfter: return spawnAfter.option
        case .driftQuantile: return driftQuantile.option
        }
    }

    /// A field of PruningOptions as messages name it: its long option (`--keep-ratio`), which the
    /// configuration file spells the same without the dashes.
    public static func flag(for setting: PruningSetting) -> String { "--" + option(for: setting).name }

    /// The live options whose value differs between `replaced` and `reloaded`, in the table's order,
    /// each as `name value` (its `--check-config` value): what the "reloaded options" line lists.
    public static func liveChanges(from replaced: PruningOptions, to reloaded: PruningOptions,
                                   in settings: DaemonSettings) -> [String] {
        var before = settings, after = settings
        before.pruning = replaced
        after.pruning = reloaded
        return table.compactMap { option in
            guard option.reload == .live, let show = option.show else { return nil }
            let value = show(after)
            return value == show(before) ? nil : "\(option.name) \(value)"
        }
    }
}

extension PruningOptionsError {
    /// The message in option names (`--keep-ratio must be in (0, 1], got 2.0`).
    public var inOptionNames: String { message(naming: ServeOptions.flag(for: setting)) }
}

extension DaemonSettings {
    /// What a SIGHUP reloads: the same command line over the file at `configPath` as it is then
    /// (none: the command line over the defaults), its changes and refusals in option names.
    public func optionsReload(configPath: String?) -> OptionsReload {
        OptionsReload(
            read: { () throws(SettingsError) -> PruningOptions in
                let file: ConfigFile?
                do throws(ConfigError) { file = try configPath.map { path throws(ConfigError) in try ConfigFile.load(path: path) } }
                catch { throw .config(error) }
                return try reloadedOptions(file: file)
            },
            changes: { replaced, reloaded in
                let changes = ServeOptions.liveChanges(from: replaced, to: reloaded, in: self)
                return changes.isEmpty ? "none changed" : changes.joined(separator: ", ")
            },
            name: { ServeOptions.option(for: $0).name })
    }
}
