// `prunerd serve`: the streaming daemon, as a filter or as a service.
import ArgumentParser
import Logging
import PrunerConfig
import PrunerCore
import PrunerDaemon
#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Decide keep/drop for records as they stream in.",
        discussion: """
            Each INPUT is a file, a FIFO or - (stdin): PRN1 or JSON Lines records (raw or LZ4), or .npy/.npz \
            matrices and clip-retrieval folders, read in order as the shards of one stream (docs/inputs.md). \
            With no INPUT, no --listen and no socket passed by systemd, stdin. With only INPUTs, prunerd exits once all reach EOF and every \
            decision is written (exit 0; 1 if an input failed, held no record, or every record was rejected), so `zcat x | prunerd serve` works \
            as a filter. With listeners it runs until SIGTERM/SIGINT, then decides every record \
            already read, writes a checkpoint and exits 0. SIGHUP reopens the decision log, rewrites --kept-ids and \
            reloads keep-ratio, temperature, neighbors, min-per-cluster, keep and recompute-every \
            from --config.
            """)

    @OptionGroup var input: InputOptions

    @Option(name: .customLong("config"), help: "TOML configuration file; keys are these long options (the command line wins).")
    var config: String?

    @Option(name: .customLong("listen"),
            help: "Listen on unix:PATH or tcp:HOST:PORT (repeatable); each connection is an input. TCP without HOST binds 127.0.0.1. Or read a Redis stream as one shard of a consumer group: redis://HOST:PORT/STREAM?group=NAME (group default prunerd; each entry's field records holds PRN1 or JSON Lines records, raw or LZ4; an entry is acknowledged once its lines are fsynced; docs/scale-out.md).")
    var listen: [String] = []

    @Option(name: .customLong("consumer"),
            help: ArgumentHelp("This daemon's consumer name in the Redis group of --listen redis://… (default: its --shard-id with --cluster, else host name and pid). A restart under the same name reads its own pending entries first.", valueName: "NAME"))
    var consumer: String?

    @Option(name: .customLong("claim-after"),
            help: ArgumentHelp("Take over entries of the Redis stream that another consumer of the group has left pending (unacknowledged, untouched) for this many seconds: a dead shard's records never wait forever (XAUTOCLAIM). Default: never.", valueName: "SECONDS"))
    var claimAfter: Double?

    @Option(name: .customLong("decisions-maxlen"),
            help: ArgumentHelp("Trim the --decisions redis://… stream to about this many entries, one per engine batch (XADD MAXLEN ~; default 1000000).", valueName: "N"))
    var decisionsMaxlen: Int?

    @Flag(name: .customLong("reply"), help: "Write each record's decision line back on its connection (all --listen sockets).")
    var reply = false

    @Option(name: .customLong("checkpoint-every"),
            help: "Seconds between checkpoints in the state directory (default 60 when listening, else off; 0: only at start and stop). A restart after a crash resumes each file input after the records the checkpoint had, and cuts the decision log back to the checkpoint's length: exactly one line per record.")
    var checkpointEvery: Double?

    @Flag(name: .customLong("fresh"), help: "Start without restoring the state directory's checkpoint (a decision log that already holds lines then needs --append or --overwrite).")
    var fresh = false

    @Option(name: .customLong("metrics"), help: "Serve Prometheus metrics at tcp:HOST:PORT (GET /metrics).")
    var metrics: String?

    @Option(name: .customLong("control"),
            help: "Unix socket for `prunerd status` (default when listening: $RUNTIME_DIRECTORY/control.sock, else <state dir>/control.sock).")
    var control: String?

    @Option(name: .customLong("threads"),
            help: "Threads sharing nearest-centroid assignment and the near-duplicate checks (default: the online CPUs; decisions never depend on it).")
    var threads: Int?

    @Flag(name: .customLong("check-config"),
          help: "Resolve --config and the command line, print the effective settings, and exit without opening anything.")
    var checkConfig = false

    @OptionGroup var pruning: PruningOptionGroup
    @OptionGroup(title: "Limits and socket permissions") var connections: ConnectionOptions
    @OptionGroup(title: "Repeated ids") var uniqueIDs: UniqueIDOptions
    @OptionGroup(title: "Many shards as one pruner") var cluster: ClusterOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let file = try config.map { try ConfigFile.load(path: $0) }
        let resolved = try output.resolve(over: file)
        var options = try pruning.options(over: file)
        let clusterConfiguration = try cluster.resolve(over: file, options: &options)
        let unique = try uniqueIDs.resolve(over: file)
        if checkConfig {
            try printEffectiveSettings(options: options, resolved: resolved, file: file)
            return
        }
        let logger = try resolved.makeLogger()

        var configuration = DaemonConfiguration()
        let addresses = listen.isEmpty ? (try file?.strings("listen") ?? []) : listen
        let configuredReply = try file?.bool("reply") ?? false
        let replies = reply || configuredReply
        configuration.listeners = try addresses.filter { !RedisURL.isRedisURL($0) }
            .map { ListenerConfiguration(address: try ListenAddress(parsing: $0), replies: replies) }
        try applyRedisOptions(addresses: addresses.filter(RedisURL.isRedisURL), resolved: resolved, file: file,
                              shardID: clusterConfiguration?.shardID, to: &configuration)
        configuration.activatedSockets = SocketActivation.takeListeningSockets().map { ActivatedSocket(fd: $0.fd, name: $0.name) }
        let isService = !configuration.listeners.isEmpty || !configuration.activatedSockets.isEmpty || !configuration.redisStreams.isEmpty
        let (streams, matrices) = try input.resolve()
        configuration.matrixStream = matrices
        configuration.inputs = streams.isEmpty && matrices == nil && !isService ? ["-"] : streams
        let meter = isService ? nil : ProgressMeter.standardError(total: ProgressMeter.inputSize(streams: configuration.inputs, matrices: matrices))
        configuration.progress = meter?.daemonCallback()
        configuration.decisionsPath = resolved.decisions
        configuration.maxRecordSize = resolved.maxRecordSize
        try connections.apply(over: file, to: &configuration)
        configuration.keptIdsPath = resolved.keptIds
        configuration.cluster = clusterConfiguration
        try resolved.checkDecisionLogLocation()

        if let every = try checkpointInterval(file: file, isService: isService) {
            try FileSystem.createDirectory(atPath: resolved.stateDirectory)
            configuration.checkpointPath = resolved.stateDirectory + "/checkpoint.prnckpt"
            configuration.checkpointEvery = every
        }
        if let (path, inStateDirectory) = try controlSocket(file: file, resolved: resolved, isService: isService) {
            if inStateDirectory { try FileSystem.createDirectory(atPath: resolved.stateDirectory) }
            configuration.controlPath = path
        }
        configuration.metrics = try (metrics ?? file?.string("metrics")).map { try ListenAddress(parsing: $0) }
        let pruning = self.pruning
        let configPath = config
        configuration.reloadOptions = {
            try pruning.options(over: try configPath.map { try ConfigFile.load(path: $0) })
        }

        let configuredFresh = try file?.bool("fresh") ?? false
        let (engine, resume, restoredEngine, restoredFilter) = try makeEngine(
            options: options, resolved: resolved, checkpoint: configuration.checkpointPath,
            fresh: fresh || configuredFresh, logger: logger)
        // Inputs checked against the checkpoint, the log cut back to it (or the existing-log rule applied).
        configuration.startPlan = try StartPreparation.prepare(
            resume: resume, restoredEngine: restoredEngine, inputs: configuration.inputs,
            matrixShards: configuration.matrixStream?.shards ?? [], decisionsPath: resolved.decisions, existingLog: resolved.existingLog)
        configuration.resume = resume
        let idFilter = chooseIDFilter(unique, restored: consume restoredFilter, resume: resume,
                                      restoredEngine: restoredEngine, plan: &configuration.startPlan)
        engine.kernel = KernelOverrides.choice
        configuration.kernel = KernelOverrides.choice
        engine.assignmentThreads = try assignmentThreads(file: file)
        let warmupAtStart = engine.warmupProgress != nil
        let daemon = try Daemon(configuration: configuration, engine: engine, logger: logger, uniqueIDs: consume idFilter)
        let summary = try daemon.run()
        try resolved.saveCentroids(engine.centroids, dimension: engine.dimension)
        if let meter {
            meter.decisions(read: meter.totalBytes ?? 0, records: summary.tally.total, decided: summary.tally.kept + summary.tally.dropped,
                            kept: summary.tally.kept, warmup: nil)
            meter.finish()
        }
        printToStandardError(summary.report)
        try resolved.publishKeptIds(of: daemon, kept: summary.tally.kept)
        let outcome = summary.outcome(options: options, warmupAtStart: warmupAtStart)
        for note in outcome.notes { printToStandardError("note: \(note)\n") }
        // As a filter, a failed input is a failed run (like zcat); as a service it is logged only.
        if !isService && (summary.inputErrors > 0 || outcome.failed) { throw ExitCode(1) }
    }

    /// Seconds between checkpoints: `--checkpoint-every`, the file's, else 60 for a service and none for a filter.
    private func checkpointInterval(file: ConfigFile?, isService: Bool) throws -> Double? {
        try checkpointEvery ?? file?.double("checkpoint-every") ?? (isService ? 60 : nil)
    }

    /// The control socket and whether it defaults into the state directory: `--control`, the
    /// file's, else for a service `$RUNTIME_DIRECTORY/control.sock` or `<state dir>/control.sock`.
    private func controlSocket(file: ConfigFile?, resolved: ResolvedOutput, isService: Bool) throws -> (String, inStateDirectory: Bool)? {
        if let control = try control ?? file?.string("control") { return (control, false) }
        guard isService else { return nil }
        if let runtime = DefaultPaths.environment("RUNTIME_DIRECTORY")?.split(separator: ":").first.map(String.init) {
            return (runtime + "/control.sock", false)
        }
        return (resolved.stateDirectory + "/control.sock", true)
    }

    /// `--threads`, the file's, else the online CPUs.
    private func assignmentThreads(file: ConfigFile?) throws -> Int {
        max(1, try threads ?? file?.int("threads") ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// `--check-config`: every setting after layering, one `key = value` per line (every
    /// config-file key has a line; PrunerDaemonTests' CheckConfigTests holds it to that).
    private func printEffectiveSettings(options: PruningOptions, resolved: ResolvedOutput, file: ConfigFile?) throws {
        var limits = DaemonConfiguration()
        try connections.apply(over: file, to: &limits)
        let given = listen.isEmpty ? (try file?.strings("listen") ?? []) : listen
        let addresses = try given.filter { !RedisURL.isRedisURL($0) }.map { try ListenAddress(parsing: $0) }
        var redis = DaemonConfiguration()
        var shardOptions = options
        try applyRedisOptions(addresses: given.filter(RedisURL.isRedisURL), resolved: resolved, file: file,
                              shardID: try cluster.resolve(over: file, options: &shardOptions)?.shardID, to: &redis)
        let metricsAddress = try (metrics ?? file?.string("metrics")).map { try ListenAddress(parsing: $0) }
        // Sockets systemd passes are not taken here (nothing is opened): a service by its listeners.
        let isService = !addresses.isEmpty || !redis.redisStreams.isEmpty
        let fresh = try self.fresh || (file?.bool("fresh") ?? false)
        let givenConsumer = try consumer ?? file?.string("consumer")
        let consumerName = redis.redisStreams.first?.consumer ?? givenConsumer ?? "(host name and pid)"
        let givenMaxLength = try decisionsMaxlen ?? file?.int("decisions-maxlen")
        let maxLength = redis.decisionStream?.maxLength ?? givenMaxLength ?? 1_000_000
        var lines = [
            "listen = \(addresses.map(\.description))",
            "listen-redis = \(redis.redisStreams.map { "\($0.url) consumer \($0.consumer)" })",
            "claim-after = \(redis.redisStreams.first?.claimAfter.map { "\($0)" } ?? "never")",
            "reply = \(try reply || (file?.bool("reply") ?? false))",
            "consumer = \(consumerName)",
            "decisions-maxlen = \(maxLength)",
            "decisions = \(resolved.decisions)",
            "append = \(resolved.existingLog == .append)", "overwrite = \(resolved.existingLog == .overwrite)",
            "decisions-stream = \(redis.decisionStream.map { "redis://\($0.url.authority)/\($0.stream) maxlen ~\($0.maxLength)" } ?? "off")",
            "state-dir = \(resolved.stateDirectory)",
            "checkpoint-every = \(try checkpointInterval(file: file, isService: isService).map { "\($0)" } ?? "off")",
            "fresh = \(fresh)",
            "control = \(try controlSocket(file: file, resolved: resolved, isService: isService)?.0 ?? "off")",
            "threads = \(try assignmentThreads(file: file))",
            "centroids = \(resolved.centroids ?? "(fitted on the warm-up)")",
            "save-centroids = \(resolved.saveCentroids ?? "off")",
            "metrics = \(metricsAddress?.description ?? "off")",
            "max-record-size = \(resolved.maxRecordSize)",
            "max-connections = \(limits.maxConnections)", "connection-buffer = \(limits.connectionBufferSize)",
            "max-reply-backlog = \(limits.maxReplyBacklog)", "socket-group = \(limits.socketGroup ?? "(the daemon's)")", "max-hold = \(limits.maxHold.map { "\($0)" } ?? "off")",
            "log-level = \(resolved.logLevel)",
            "kept-ids = \(resolved.keptIds ?? "off")",
            "unique-ids = \(try uniqueIDs.resolve(over: file).enabled)",
            "expected-records = \(try uniqueIDs.resolve(over: file).expectedRecords)",
        ]
        var clusterOptions = options
        if let shard = try cluster.resolve(over: file, options: &clusterOptions) {
            lines += ["cluster = \(shard.url)", "shard-id = \(shard.shardID)", "sync-every = \(shard.syncEvery)"]
        } else {
            lines += ["cluster = off", "shard-id = (no cluster)", "sync-every = (no cluster)"]
        }
        lines += [
            "keep-ratio = \(options.keepRatio)", "clusters = \(options.clusters)", "temperature = \(options.temperature)",
            "neighbors = \(options.neighbors)", "min-per-cluster = \(options.minPerCluster)", "keep = \(options.keep.rawValue)",
            "seed = \(options.seed)", "warmup = \(options.warmup)", "lookahead = \(options.lookahead)",
            "recompute-every = \(options.recomputeEvery)", "update = \(options.update.rawValue)",
            "kmeans-iterations = \(options.kmeansIterations)",
            "dedup-threshold = \(options.dedupThreshold)", "dedup-memory = \(options.dedupMemory)",
            "min-score = \(options.minScore.map { "\($0)" } ?? "off")", "half-life = \(options.halfLife)",
            "spawn-after = \(options.spawnAfter)", "drift-quantile = \(options.driftQuantile)",
        ]
        print(lines.joined(separator: "\n"))
        print("configuration OK" + (file.map { " (\($0.path))" } ?? ""))
    }

    /// `--unique-ids`: the checkpoint's filter when there is one (it describes the records
    /// the restored state counts), else a new one sized by `--expected-records`.
    private func chooseIDFilter(_ unique: (enabled: Bool, expectedRecords: Int), restored: consuming IDFilter?,
                                resume: ResumePoint?, restoredEngine: Bool, plan: inout StartPlan) -> IDFilter? {
        guard unique.enabled else {
            if restored != nil {
                plan.notices.append("the checkpoint's id filter is not used (no --unique-ids): repeated ids are decided like any record, and the next checkpoint no longer holds the filter")
            }
            return nil
        }
        if let restored {
            var notice = "--unique-ids: the checkpoint's id filter holds \(restored.insertedCount) ids (sized for \(restored.expectedRecords))"
            if restored.expectedRecords != unique.expectedRecords {
                notice += "; it keeps its size, --expected-records \(unique.expectedRecords) applies to a fresh start (--fresh)"
            }
            plan.notices.append(notice)
            return restored
        }
        if resume != nil || restoredEngine {
            plan.warnings.append("--unique-ids: the checkpoint holds no id filter (it was written without --unique-ids): ids decided before it are not recognised as repeats")
        }
        return IDFilter(expectedRecords: unique.expectedRecords)
    }

    /// The streaming engine, restored from the state directory's checkpoint when one is there,
    /// with the checkpoint's resume point (nil for a bare engine checkpoint of an older prunerd)
    /// and its `--unique-ids` filter.
    private func makeEngine(options: PruningOptions, resolved: ResolvedOutput, checkpoint: String?, fresh: Bool,
                            logger: Logger) throws -> (StreamingEngine, ResumePoint?, restored: Bool, idFilter: IDFilter?) {
        if let checkpoint, !fresh, FileSystem.fileExists(atPath: checkpoint) {
            do {
                let bytes = try FileSystem.readFile(atPath: checkpoint)
                if ResumePoint.isResumePoint(bytes) {
                    var point = try ResumePoint(decoding: bytes)
                    let engine = point.engine.isEmpty
                        ? try StreamingEngine(options: options, centroids: try resolved.loadCentroids())
                        : try StreamingEngine(restoringCheckpoint: point.engine, options: options)
                    let filter = try point.idFilter.map { bytes throws(CheckpointError) in try IDFilter(checkpoint: bytes) }
                    point.idFilter = nil   // decoded; the bytes (tens of MB) are not kept twice
                    logger.info("restored checkpoint \(checkpoint)")
                    return (engine, point, !point.engine.isEmpty, filter)
                }
                let engine = try StreamingEngine(restoringCheckpoint: bytes, options: options)
                logger.info("restored checkpoint \(checkpoint) (an engine checkpoint without input positions: inputs are read from their start)")
                return (engine, nil, true, nil)
            } catch {
                // Never half-load: keep the file for inspection, start from scratch.
                let aside = checkpoint + ".rejected"
                logger.error("checkpoint \(checkpoint) not restored: \(error); moved to \(aside), starting fresh")
                try? FileSystem.rename(checkpoint, to: aside)
            }
        }
        return (try StreamingEngine(options: options, centroids: try resolved.loadCentroids()), nil, false, nil)
    }
}
