// `prunerd offline`: the exact batch DBP recipe over finished inputs.
import ArgumentParser
import PrunerConfig
import PrunerCore
import PrunerDaemon

struct OfflineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offline",
        abstract: "Run exact batch Density-Based Pruning over all records of the inputs.",
        discussion: """
            Reads every record (same wire format as serve), clusters with spherical k-means \
            (or --centroids), computes exact quotas, and writes the same decision log format. \
            It is both a feature and the reference the streaming path is measured against.
            """)

    @OptionGroup var input: InputOptions

    @OptionGroup var pruning: PruningOptionGroup
    @OptionGroup var output: OutputOptions

    @Option(name: .customLong(ServeOptions.threads.name),
            help: "Threads for k-means and assignment (default: the online CPUs; decisions do not depend on it).")
    var threads: Int?

    func run() throws {
        let resolved = try output.resolve()
        let logger = try resolved.makeLogger()
        var configuration = DaemonConfiguration()
        let (streams, matrices) = try input.resolve()
        configuration.matrixStream = matrices
        configuration.inputs = streams.isEmpty && matrices == nil ? ["-"] : streams
        let meter = ProgressMeter.standardError(total: ProgressMeter.inputSize(streams: configuration.inputs, matrices: matrices))
        configuration.progress = meter?.daemonCallback()
        if resolved.decisionStream != nil { throw ValidationError("--decisions redis://… is an option of prunerd serve (offline writes its decision log only)") }
        configuration.decisionsPath = resolved.decisions
        configuration.maxRecordSize = resolved.maxRecordSize
        configuration.keptIdsPath = resolved.keptIds
        try resolved.checkDecisionLogLocation()
        configuration.startPlan = try StartPreparation.prepare(
            resume: nil, restoredEngine: false, inputs: configuration.inputs,
            decisionsPath: resolved.decisions, existingLog: resolved.existingLog)
        let options = try pruning.options()
        let engine = OfflineEngine(options: options, centroids: try resolved.loadCentroidsForCommandLine(clusters: options.clusters))
        engine.kernel = KernelOverrides.choice
        engine.threads = max(1, threads ?? SettingsEnvironment.current().onlineCPUs)
        configuration.kernel = KernelOverrides.choice
        let daemon = try Daemon(configuration: configuration, engine: engine, logger: logger)
        let summary = try daemon.run()
        try resolved.saveCentroids(engine.centroids, dimension: engine.dimension)
        if let meter {
            meter.decisions(read: meter.totalBytes ?? 0, records: summary.tally.total, decided: summary.tally.kept + summary.tally.dropped,
                            kept: summary.tally.kept, warmup: nil)
            meter.finish()
        }
        printToStandardError(summary.report)
        try resolved.publishKeptIds(of: daemon, kept: summary.tally.kept)
        let outcome = summary.outcome(options: options, warmupAtStart: nil)
        for note in outcome.notes { printToStandardError("note: \(note)\n") }
        if summary.inputErrors > 0 || outcome.failed { throw ExitCode(1) }
    }
}
