// `prunerd serve`: the streaming daemon, as a filter or as a service.
import ArgumentParser
import Logging
import PrunerConfig
import PrunerCore
import PrunerDaemon

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
            already read (with --suspend-on-stop: checkpoints the held ones undecided), writes a checkpoint and exits 0. SIGHUP reopens the decision log, rewrites --kept-ids and \
            reloads \(ServeOptions.liveNames) from --config (docs/options.md).
            """)

    @OptionGroup var input: InputOptions

    @Option(name: .customLong(ServeOptions.config.name), help: "TOML configuration file; keys are these long options (the command line wins).")
    var config: String?

    @Option(name: .customLong(ServeOptions.listen.name),
            help: "Listen on unix:PATH or tcp:HOST:PORT (repeatable); each connection is an input. TCP without HOST binds 127.0.0.1. Or read a Redis stream as one shard of a consumer group: redis://HOST:PORT/STREAM?group=NAME (group default prunerd; each entry's field records holds PRN1 or JSON Lines records, raw or LZ4; an entry is acknowledged once its lines are fsynced; docs/scale-out.md).")
    var listen: [String] = []

    @Option(name: .customLong(ServeOptions.consumer.name),
            help: ArgumentHelp("This daemon's consumer name in the Redis group of --listen redis://… (default: its --shard-id with --cluster, else host name and pid). A restart under the same name reads its own pending entries first.", valueName: "NAME"))
    var consumer: String?

    @Option(name: .customLong(ServeOptions.claimAfter.name),
            help: ArgumentHelp("Take over entries of the Redis stream that another consumer of the group has left pending (unacknowledged, untouched) for this many seconds: a dead shard's records never wait forever (XAUTOCLAIM). Default: never.", valueName: "SECONDS"))
    var claimAfter: Double?

    @Option(name: .customLong(ServeOptions.decisionsMaxlen.name),
            help: ArgumentHelp("Trim the --decisions redis://… stream to about this many entries, one per engine batch (XADD MAXLEN ~; default 1000000).", valueName: "N"))
    var decisionsMaxlen: Int?

    @Flag(name: .customLong(ServeOptions.reply.name), help: "Write each record's decision line back on its connection (all --listen sockets).")
    var reply = false

    @Option(name: .customLong(ServeOptions.checkpointEvery.name),
            help: "Seconds between checkpoints in the state directory (default 60 when listening, else off; 0: only at start and stop). A restart after a crash resumes each file input after the records the checkpoint had, and cuts the decision log back to the checkpoint's length: exactly one line per record.")
    var checkpointEvery: Double?

    @Flag(name: .customLong(ServeOptions.suspendOnStop.name),
          help: "On SIGTERM/SIGINT, leave the records held by the look-ahead or the warm-up undecided in the checkpoint instead of deciding them now: the next start with the same command decides them as an uninterrupted run would (the same kept set), but until then they have no line (reply clients get no answer for them). Needs a state directory (--checkpoint-every).")
    var suspendOnStop = false

    @Flag(name: .customLong(ServeOptions.fresh.name), help: "Start without restoring the state directory's checkpoint (a decision log that already holds lines then needs --append or --overwrite).")
    var fresh = false

    @Option(name: .customLong(ServeOptions.metrics.name), help: "Serve Prometheus metrics at tcp:HOST:PORT (GET /metrics).")
    var metrics: String?

    @Option(name: .customLong(ServeOptions.control.name),
            help: "Unix socket for `prunerd status` (default when listening: $RUNTIME_DIRECTORY/control.sock, else <state dir>/control.sock).")
    var control: String?

    @Option(name: .customLong(ServeOptions.threads.name),
            help: "Threads sharing nearest-centroid assignment and the near-duplicate checks (default: the online CPUs; decisions never depend on it).")
    var threads: Int?

    @Flag(name: .customLong(ServeOptions.checkConfig.name),
          help: "Resolve --config and the command line, print the effective settings, and exit without opening anything.")
    var checkConfig = false

    @OptionGroup var pruning: PruningOptionGroup
    @OptionGroup(title: "Limits and socket permissions") var connections: ConnectionOptions
    @OptionGroup(title: "Repeated ids") var uniqueIDs: UniqueIDOptions
    @OptionGroup(title: "Many shards as one pruner") var cluster: ClusterOptions
    @OptionGroup var output: OutputOptions

    /// What the command line says, as values of the option table (ServeOptions).
    var commandLineValues: CommandLineValues {
        var values = CommandLineValues()
        input.record(into: &values)
        values.set(ServeOptions.config, config)
        values.set(ServeOptions.listen, listen.isEmpty ? nil : listen)
        values.set(ServeOptions.consumer, consumer)
        values.set(ServeOptions.claimAfter, claimAfter)
        values.set(ServeOptions.decisionsMaxlen, decisionsMaxlen)
        values.set(ServeOptions.reply, flag: reply)
        values.set(ServeOptions.checkpointEvery, checkpointEvery)
        values.set(ServeOptions.fresh, flag: fresh)
        values.set(ServeOptions.suspendOnStop, flag: suspendOnStop)
        values.set(ServeOptions.metrics, metrics)
        values.set(ServeOptions.control, control)
        values.set(ServeOptions.threads, threads)
        values.set(ServeOptions.checkConfig, flag: checkConfig)
        pruning.record(into: &values)
        connections.record(into: &values)
        uniqueIDs.record(into: &values)
        cluster.record(into: &values)
        output.record(into: &values)
        return values
    }

    func run() throws {
        let file = try config.map { try ConfigFile.load(path: $0) }
        let layers = SettingsLayers(commandLine: commandLineValues, file: file)
        if checkConfig {
            // Sockets systemd passes are not taken here (nothing is opened): a service by its listeners.
            let settings = try resolvingForCommandLine { () throws(SettingsError) in
                try DaemonSettings(layers: layers, environment: .current())
            }
            print(ServeOptions.effectiveLines(of: settings).joined(separator: "\n"))
            print("configuration OK" + (file.map { " (\($0.path))" } ?? ""))
            return
        }
        let activatedSockets = SocketActivation.takeListeningSockets().map { ActivatedSocket(fd: $0.fd, name: $0.name) }
        let settings = try resolvingForCommandLine { () throws(SettingsError) in
            try DaemonSettings(layers: layers, environment: .current(socketActivated: !activatedSockets.isEmpty))
        }
        let logger = try settings.output.makeLogger()

        var configuration = DaemonConfiguration()
        settings.apply(to: &configuration)
        configuration.activatedSockets = activatedSockets
        let (streams, matrices) = try input.resolve()
        configuration.matrixStream = matrices
        configuration.inputs = settings.inputs(given: streams, matrices: matrices != nil)
        let meter = settings.isService ? nil : ProgressMeter.standardError(total: ProgressMeter.inputSize(streams: configuration.inputs, matrices: matrices))
        configuration.progress = meter?.daemonCallback()
        try settings.output.checkDecisionLogLocation()
        if settings.needsStateDirectory {
            try FileSystem.createDirectory(atPath: settings.output.stateDirectory)
            try StartPreparation.lockStateDirectory(settings.output.stateDirectory)
        }
        configuration.reloadOptions = settings.optionsReload(configPath: config)

        var start: StartingEngine
        do { start = try settings.startingEngine(logger: logger) } catch let error as SettingsError { throw error.forCommandLine }
        // Inputs checked against the checkpoint, the log cut back to it (or the existing-log rule applied).
        configuration.startPlan = try StartPreparation.prepare(
            resume: start.resume, restoredEngine: start.restoredEngine, inputs: configuration.inputs,
            matrixShards: configuration.matrixStream?.shards ?? [], decisionsPath: settings.output.decisions,
            existingLog: settings.output.existingLog, noResume: start.noResume)
        start.setRejectedCheckpointAside(logger: logger)
        configuration.resume = start.resume
        let idFilter = settings.idFilter(restored: start.idFilter.take(), resume: start.resume,
                                         restoredEngine: start.restoredEngine, plan: &configuration.startPlan)
        let engine = start.engine
        engine.kernel = KernelOverrides.choice
        configuration.kernel = KernelOverrides.choice
        engine.assignmentThreads = settings.threads
        let warmupAtStart = engine.warmupProgress != nil
        let daemon = try Daemon(configuration: configuration, engine: engine, logger: logger, uniqueIDs: consume idFilter)
        let summary = try daemon.run()
        try settings.output.saveCentroids(engine.centroids, dimension: engine.dimension)
        if let meter {
            meter.decisions(read: meter.totalBytes ?? 0, records: summary.tally.total, decided: summary.tally.kept + summary.tally.dropped,
                            kept: summary.tally.kept, warmup: nil)
            meter.finish()
        }
        printToStandardError(summary.report)
        try settings.output.publishKeptIds(of: daemon, kept: summary.tally.kept)
        let outcome = summary.outcome(options: settings.pruning, warmupAtStart: warmupAtStart)
        for note in outcome.notes { printToStandardError("note: \(note)\n") }
        // As a filter, a failed input is a failed run (like zcat); as a service it is logged only.
        if !settings.isService && (summary.inputErrors > 0 || outcome.failed) { throw ExitCode(1) }
    }
}
