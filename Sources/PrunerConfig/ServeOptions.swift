// The option table of `prunerd serve`: every option once, in `--check-config`'s
// order. ConfigFile.knownKeys, the value reading (PruningOptions(layers:),
// DaemonSettings), `--check-config` and docs/options.md are derived from it;
// ServeOptionTableTests holds the command line's @Options and the docs to it.
import PrunerCore
import PrunerDaemon

/// The options of `prunerd serve`, each a typed key on its row.
public enum ServeOptions {
    private static var pruning: PruningOptions { PruningOptions() }
    private static var daemon: DaemonConfiguration { DaemonConfiguration() }

    // MARK: Inputs and replies

    /// `--listen`: unix, tcp and redis:// addresses.
    public static let listen = OptionKey<[String]>.strings("listen", "none", reload: .restart) {
        "\($0.listeners.map(\.description))"
    }.followed(by: "listen-redis") { settings in "\(settings.redisStreams.map { "\($0.url) consumer \($0.consumer)" })" }
    /// `--claim-after`.
    public static let claimAfter = OptionKey<Double>.number("claim-after", nil, "never", reload: .restart) {
        $0.claimAfter.map { "\($0)" } ?? "never"
    }
    /// `--reply`.
    public static let reply = OptionKey<Bool>.flag("reply", reload: .restart) { "\($0.reply)" }
    /// `--consumer`.
    public static let consumer = OptionKey<String>.string("consumer", nil, "the shard id with --cluster, else host name and pid",
                                                          reload: .restart) {
        $0.redisStreams.first?.consumer ?? $0.consumer ?? "(host name and pid)"
    }
    /// `--decisions-maxlen`.
    public static let decisionsMaxlen = OptionKey<Int>.integer(
        "decisions-maxlen", RedisDecisionStreamConfiguration.defaultMaxLength, reload: .restart) { "\($0.decisionsMaxlen)" }

    // MARK: Outputs and state

    /// `--decisions`: the log's path (or -) and a redis:// stream beside it.
    public static let decisions = OptionKey<[String]>.strings(
        "decisions", "$LOGS_DIRECTORY/decisions.jsonl, else <state dir>/decisions.jsonl", reload: .restart) { $0.output.decisions }
    /// `--append`.
    public static let append = OptionKey<Bool>.flag("append", reload: .restart) { "\($0.output.existingLog == .append)" }
    /// `--overwrite`.
    public static let overwrite = OptionKey<Bool>.flag("overwrite", reload: .restart) {
        "\($0.output.existingLog == .overwrite)"
    }.followed(by: "decisions-stream") { settings in
        settings.decisionStream.map { "redis://\($0.url.authority)/\($0.stream) maxlen ~\($0.maxLength)" } ?? "off"
    }
    /// `--state-dir`.
    public static let stateDir = OptionKey<String>.string(
        "state-dir", nil, "$STATE_DIRECTORY, else $XDG_STATE_HOME/prunerd, else ~/.local/state/prunerd", reload: .restart) {
        $0.output.stateDirectory
    }
    /// `--checkpoint-every`.
    public static let checkpointEvery = OptionKey<Double>.number("checkpoint-every", nil, "60 when listening, else off (0: only at start and stop)",
                                                                 reload: .restart) {
        $0.checkpointEvery.map { "\($0)" } ?? "off"
    }
    /// `--fresh`.
    public static let fresh = OptionKey<Bool>.flag("fresh", reload: .restart) { "\($0.fresh)" }
    /// `--suspend-on-stop`.
    public static let suspendOnStop = OptionKey<Bool>.flag("suspend-on-stop", reload: .restart) { "\($0.suspendOnStop)" }
    /// `--control`.
    public static let control = OptionKey<String>.string(
        "control", nil, "$RUNTIME_DIRECTORY/control.sock when listening, else <state dir>/control.sock", reload: .restart) {
        $0.control?.path ?? "off"
    }
    /// `--threads`.
    public static let threads = OptionKey<Int>.integer("threads", nil, "the online CPUs", reload: .restart) { "\($0.threads)" }
    /// `--centroids`.
    public static let centroids = OptionKey<String>.string("centroids", nil, "fitted on the warm-up", reload: .restart) {
        $0.output.centroids ?? "(fitted on the warm-up)"
    }
    /// `--save-centroids`.
    public static let saveCentroids = OptionKey<String>.string("save-centroids", nil, "off", reload: .restart) {
        $0.output.saveCentroids ?? "off"
    }
    /// `--metrics`.
    public static let metrics = OptionKey<String>.string("metrics", nil, "off", reload: .restart) {
        $0.metrics?.description ?? "off"
    }

    // MARK: Limits and socket permissions

    /// `--max-record-size`.
    public static let maxRecordSize = OptionKey<Int>.integer("max-record-size", daemon.maxRecordSize, "1048576 (1 MiB)",
                                                             reload: .restart) { "\($0.output.maxRecordSize)" }
    /// `--max-connections`.
    public static let maxConnections = OptionKey<Int>.integer("max-connections", daemon.maxConnections, reload: .restart) {
        "\($0.limits.maxConnections)"
    }
    /// `--connection-buffer`.
    public static let connectionBuffer = OptionKey<Int>.integer("connection-buffer", daemon.connectionBufferSize,
                                                                reload: .restart) { "\($0.limits.connectionBuffer)" }
    /// `--max-reply-backlog`.
    public static let maxReplyBacklog = OptionKey<Int>.integer("max-reply-backlog", daemon.maxReplyBacklog, reload: .restart) {
        "\($0.limits.maxReplyBacklog)"
    }
    /// `--socket-group`.
    public static let socketGroup = OptionKey<String>.string("socket-group", nil, "the daemon's", reload: .restart) {
        $0.limits.socketGroup ?? "(the daemon's)"
    }
    /// `--max-hold` (0: off).
    public static let maxHold = OptionKey<Double>.number("max-hold", 5, "5 (0: wait for more input or the stop)", reload: .restart) {
        $0.limits.maxHold.map { "\($0)" } ?? "off"
    }
    /// `--log-level`.
    public static let logLevel = OptionKey<String>.string("log-level", "info", reload: .restart) { $0.output.logLevel }
    /// `--kept-ids`.
    public static let keptIds = OptionKey<String>.string("kept-ids", nil, "off", reload: .restart) { $0.output.keptIds ?? "off" }

    // MARK: Repeated ids, many shards

    /// `--unique-ids`.
    public static let uniqueIDs = OptionKey<Bool>.flag("unique-ids", reload: .restart) { "\($0.uniqueIDs)" }
    /// `--expected-records`.
    public static let expectedRecords = OptionKey<Int>.integer("expected-records", IDFilter.defaultExpectedRecords,
                                                               reload: .restart) { "\($0.expectedRecords)" }
    /// `--cluster`.
    public static let cluster = OptionKey<String>.string("cluster", nil, "off", reload: .restart) {
        $0.cluster.map { "\($0.url)" } ?? "off"
    }
    /// `--shard-id`.
    public static let shardID = OptionKey<String>.string("shard-id", nil, "host name and pid", reload: .restart) {
        $0.cluster?.shardID ?? "(no cluster)"
    }
    /// `--sync-every`.
    public static let syncEvery = OptionKey<Double>.number("sync-every", ClusterConfiguration.defaultSyncEvery, reload: .restart) {
        $0.cluster.map { "\($0.syncEvery)" } ?? "(no cluster)"
    }

    // MARK: Pruning

    /// `--keep-ratio`.
    public static let keepRatio = OptionKey<Double>.number("keep-ratio", pruning.keepRatio, reload: .live) { "\($0.pruning.keepRatio)" }
    /// `--clusters`.
    public static let clusters = OptionKey<Int>.integer("clusters", pruning.clusters, reload: .refused) { "\($0.pruning.clusters)" }
    /// `--temperature`.
    public static let temperature = OptionKey<Double>.number("temperature", pruning.temperature, reload: .live) {
        "\($0.pruning.temperature)"
    }
    /// `--neighbors`.
    public static let neighbors = OptionKey<Int>.integer("neighbors", pruning.neighbors, reload: .live) { "\($0.pruning.neighbors)" }
    /// `--min-per-cluster`.
    public static let minPerCluster = OptionKey<Double>.number("min-per-cluster", pruning.minPerCluster, reload: .live) {
        "\($0.pruning.minPerCluster)"
    }
    /// `--keep`.
    public static let keep = OptionKey<KeepMode>.choice("keep", pruning.keep, reload: .live) { $0.pruning.keep.rawValue }
    /// `--seed`.
    public static let seed = OptionKey<UInt64>.unsigned("seed", pruning.seed, reload: .refused) { "\($0.pruning.seed)" }
    /// `--warmup` (its default follows `--clusters`).
    public static let warmup = OptionKey<Int>.integer("warmup", nil, "300·k (30000 at k = 100)", reload: .restart) {
        "\($0.pruning.warmup)"
    }
    /// `--lookahead`.
    public static let lookahead = OptionKey<Int>.integer("lookahead", pruning.lookahead, reload: .live) { "\($0.pruning.lookahead)" }
    /// `--recompute-every`.
    public static let recomputeEvery = OptionKey<Int>.integer("recompute-every", pruning.recomputeEvery, reload: .live) {
        "\($0.pruning.recomputeEvery)"
    }
    /// `--update`.
    public static let update = OptionKey<CentroidUpdate>.choice("update", pruning.update, reload: .refused) {
        $0.pruning.update.rawValue
    }
    /// `--kmeans-iterations`.
    public static let kmeansIterations = OptionKey<Int>.integer("kmeans-iterations", pruning.kmeansIterations, reload: .restart) {
        "\($0.pruning.kmeansIterations)"
    }
    /// `--dedup-threshold`.
    public static let dedupThreshold = OptionKey<Double>.number("dedup-threshold", pruning.dedupThreshold, reload: .live) {
        "\($0.pruning.dedupThreshold)"
    }
    /// `--dedup-memory`.
    public static let dedupMemory = OptionKey<Int>.integer("dedup-memory", pruning.dedupMemory, reload: .refused) {
        "\($0.pruning.dedupMemory)"
    }
    /// `--min-score`.
    public static let minScore = OptionKey<Float>.float("min-score", "off", reload: .live) {
        $0.pruning.minScore.map { "\($0)" } ?? "off"
    }
    /// `--half-life`.
    public static let halfLife = OptionKey<Int>.integer("half-life", pruning.halfLife, reload: .live) { "\($0.pruning.halfLife)" }
    /// `--spawn-after`.
    public static let spawnAfter = OptionKey<Int>.integer("spawn-after", pruning.spawnAfter, reload: .live) {
        "\($0.pruning.spawnAfter)"
    }
    /// `--drift-quantile`.
    public static let driftQuantile = OptionKey<Double>.number("drift-quantile", pruning.driftQuantile, reload: .live) {
        "\($0.pruning.driftQuantile)"
    }

    // MARK: Command line only

    /// `--ids`: the matrix rows' ids.
    public static let ids = OptionKey<String>.string("ids", nil, "each shard's ids file, else the row number",
                                                     source: .commandLineOnly, reload: .restart) {
        $0.matrixIDs ?? "(each shard's ids file, else the row number)"
    }
    /// `--scores`: the matrix rows' scores.
    public static let scores = OptionKey<String>.string("scores", nil, "none", source: .commandLineOnly, reload: .restart) {
        $0.matrixScores ?? "none"
    }
    /// `--npz-key`.
    public static let npzKey = OptionKey<String>.string("npz-key", nil, "the only 2-D float array",
                                                        source: .commandLineOnly, reload: .restart) {
        $0.npzKey ?? "(the only 2-D float array)"
    }
    /// `--config`: the file itself (not a setting).
    public static let config = OptionKey<String>.string("config", nil, "none", source: .commandLineOnly, reload: .restart,
                                                        show: nil)
    /// `--check-config`: an action (not a setting).
    public static let checkConfig = OptionKey<Bool>.flag("check-config", source: .commandLineOnly, reload: .restart, show: nil)

    /// Every option of `prunerd serve`, in `--check-config`'s order.
    public static let table: [ServeOption] = [
        listen.option, claimAfter.option, reply.option, consumer.option, decisionsMaxlen.option,
        decisions.option, append.option, overwrite.option, stateDir.option, checkpointEvery.option, fresh.option, suspendOnStop.option,
        control.option, threads.option, centroids.option, saveCentroids.option, metrics.option,
        maxRecordSize.option, maxConnections.option, connectionBuffer.option, maxReplyBacklog.option,
        socketGroup.option, maxHold.option, logLevel.option, keptIds.option,
        uniqueIDs.option, expectedRecords.option, cluster.option, shardID.option, syncEvery.option,
        keepRatio.option, clusters.option, temperature.option, neighbors.option, minPerCluster.option, keep.option,
        seed.option, warmup.option, lookahead.option, recomputeEvery.option, update.option, kmeansIterations.option,
        dedupThreshold.option, dedupMemory.option, minScore.option, halfLife.option, spawnAfter.option, driftQuantile.option,
        ids.option, scores.option, npzKey.option, config.option, checkConfig.option,
    ]

    /// The options a SIGHUP applies, as a sentence lists them ("a, b and c"), for help texts.
    public static var liveNames: String {
        let names = table.filter { $0.reload == .live }.map(\.name)
        return names.dropLast().joined(separator: ", ") + (names.count > 1 ? " and " : "") + (names.last ?? "")
    }

    /// The keys a configuration file may hold.
    public static let configurationKeys = Set(table.filter { $0.source == .commandLineAndFile }.map(\.name))

    /// `--check-config`'s lines: each setting's effective value, `name = value`.
    public static func effectiveLines(of settings: DaemonSettings) -> [String] {
        table.flatMap { option -> [String] in
            guard let show = option.show else { return [] }
            return ["\(option.name) = \(show(settings))"] + (option.companion.map { ["\($0.name) = \($0.show(settings))"] } ?? [])
        }
    }
}
