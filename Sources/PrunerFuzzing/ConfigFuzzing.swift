// fuzz-config: the `--config` TOML reader and every typed read of its keys.

import PrunerConfig
import PrunerCore
import PrunerDaemon

/// Parses the input as a configuration file, then reads every known key as
/// every type the daemon asks for, as `prunerd serve` and `--check-config` do.
enum ConfigFuzzing {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let file = try? ConfigFile.parse(Array(input), path: "fuzz.toml") else { return }
        var options = PruningOptions()
        for key in ConfigFile.knownKeys.sorted() {
            if let number = try? file.double(key) { apply(number, to: key, &options) }
            if let integer = try? file.int(key) { apply(integer, to: key, &options) }
            if let seed = try? file.unsigned(key), key == "seed" { options.seed = seed }
            _ = try? file.bool(key)
            if let text = try? file.string(key) {
                if key == "keep", let mode = KeepMode(rawValue: text) { options.keep = mode }
                if key == "update", let mode = CentroidUpdate(rawValue: text) { options.update = mode }
            }
            if let list = try? file.strings(key), key == "listen" || key == "metrics" {
                for text in list { _ = try? ListenAddress(parsing: text) }
            }
        }
        _ = options.isValid
    }

    private static func apply(_ number: Double, to key: String, _ options: inout PruningOptions) {
        switch key {
        case "keep-ratio": options.keepRatio = number
        case "temperature": options.temperature = number
        case "min-per-cluster": options.minPerCluster = number
        case "dedup-threshold": options.dedupThreshold = number
        case "drift-quantile": options.driftQuantile = number
        case "min-score": options.minScore = Float(number)
        default: break
        }
    }

    private static func apply(_ integer: Int, to key: String, _ options: inout PruningOptions) {
        switch key {
        case "clusters": options.clusters = integer
        case "neighbors": options.neighbors = integer
        case "kmeans-iterations": options.kmeansIterations = integer
        case "warmup": options.warmup = integer
        case "recompute-every": options.recomputeEvery = integer
        case "lookahead": options.lookahead = integer
        case "dedup-memory": options.dedupMemory = integer
        case "half-life": options.halfLife = integer
        case "spawn-after": options.spawnAfter = integer
        default: break
        }
    }
}
