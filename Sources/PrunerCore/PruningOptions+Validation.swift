// Which values of PruningOptions the engine accepts. The core names a bad value by
// its field (`PruningSetting`); the command line and the configuration file map the
// field to their own spelling (PrunerConfig's option table), so the core knows no flags.

/// A field of `PruningOptions`, as the core names it.
///
/// Why an enum: errors of the core (a value out of range, an option that cannot
/// change live) name the setting without knowing how the user spelled it; the
/// CLI and the configuration file map each case to their option (an exhaustive
/// switch in PrunerConfig, so a new field cannot go unnamed).
public enum PruningSetting: String, Sendable, CaseIterable {
    case keepRatio, clusters, temperature, neighbors, minPerCluster, keep, seed, kmeansIterations, warmup
    case recomputeEvery, update, lookahead, dedupThreshold, dedupMemory, minScore, halfLife, spawnAfter
    case driftQuantile
}

/// What a setting's value must be.
public enum SettingRequirement: Sendable, Equatable, CustomStringConvertible {
    /// An integer of at least this.
    case atLeast(Int)
    /// An integer of at most this, and why the bound.
    case atMost(Int, because: String)
    /// A finite number ≥ 0.
    case nonNegative
    /// A finite number > 0.
    case positive
    /// A finite number.
    case finite
    /// A number in this interval, written as the user reads it: "(0, 1]".
    case interval(String)

    /// The requirement as a message says it, after the setting's name.
    public var description: String {
        switch self {
        case .atLeast(let bound): return "must be at least \(bound)"
        case .atMost(let bound, let reason): return "must be at most \(bound) (\(reason))"
        case .nonNegative: return "must be ≥ 0"
        case .positive: return "must be positive"
        case .finite: return "must be finite"
        case .interval(let interval): return "must be in \(interval)"
        }
    }
}

/// A value of `PruningOptions` the engine refuses: the setting, what it must be, and what it was.
public struct PruningOptionsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first bad setting (in `validate()`'s order).
    public let setting: PruningSetting
    /// What its value must be.
    public let requirement: SettingRequirement
    /// The value given, as text.
    public let value: String

    /// The message with the setting named `name` (the CLI passes its flag, `--keep-ratio`).
    public func message(naming name: String) -> String { "\(name) \(requirement), got \(value)" }

    /// The message in the core's names (a caller that has no option names of its own).
    public var description: String { message(naming: setting.rawValue) }
}

extension PruningOptions {
    /// Checks ranges.
    /// - Throws: `PruningOptionsError` naming the first bad setting.
    public func validate() throws(PruningOptionsError) {
        func refuse(_ setting: PruningSetting, _ requirement: SettingRequirement, _ value: some Any) -> PruningOptionsError {
            PruningOptionsError(setting: setting, requirement: requirement, value: "\(value)")
        }
        if !(keepRatio > 0 && keepRatio <= 1) { throw refuse(.keepRatio, .interval("(0, 1]"), keepRatio) }
        if clusters < 1 { throw refuse(.clusters, .atLeast(1), clusters) }
        if clusters > Self.maxClusters {
            throw refuse(.clusters, .atMost(Self.maxClusters, because: "each concept holds 16 KiB of statistics before any record arrives"), clusters)
        }
        if !(temperature > 0) || !temperature.isFinite { throw refuse(.temperature, .positive, temperature) }
        if neighbors < 1 { throw refuse(.neighbors, .atLeast(1), neighbors) }
        if !(minPerCluster >= 0) || !minPerCluster.isFinite { throw refuse(.minPerCluster, .nonNegative, minPerCluster) }
        if kmeansIterations < 1 { throw refuse(.kmeansIterations, .atLeast(1), kmeansIterations) }
        if warmup < 0 { throw refuse(.warmup, .nonNegative, warmup) }
        if lookahead < 0 { throw refuse(.lookahead, .nonNegative, lookahead) }
        if recomputeEvery < 1 { throw refuse(.recomputeEvery, .atLeast(1), recomputeEvery) }
        if !(dedupThreshold >= 0 && dedupThreshold < 1) { throw refuse(.dedupThreshold, .interval("[0, 1)"), dedupThreshold) }
        if dedupMemory < 1 { throw refuse(.dedupMemory, .atLeast(1), dedupMemory) }
        if dedupMemory > Self.maxRememberedMembers {
            throw refuse(.dedupMemory, .atMost(Self.maxRememberedMembers,
                                               because: "each concept's ring reserves 2·d bytes per member at its first one"), dedupMemory)
        }
        if let m = minScore, !m.isFinite { throw refuse(.minScore, .finite, m) }
        if halfLife < 0 { throw refuse(.halfLife, .nonNegative, halfLife) }
        if spawnAfter < 0 { throw refuse(.spawnAfter, .nonNegative, spawnAfter) }
        if spawnAfter > Self.maxRememberedMembers {
            throw refuse(.spawnAfter, .atMost(Self.maxRememberedMembers, because: "the drift pool holds 4·N far records"), spawnAfter)
        }
        if !(driftQuantile > 0 && driftQuantile < 1) { throw refuse(.driftQuantile, .interval("(0, 1)"), driftQuantile) }
    }

    /// Whether `validate()` accepts these options.
    public var isValid: Bool { (try? validate()) != nil }
}
