// `prunerd offline`: the exact batch DBP recipe over finished inputs.
import ArgumentParser
import PrunerCore
import PrunerDaemon

struct OfflineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offline",
        abstract: "Run exact batch Density-Based Pruning over all records of the inputs.",
        discussion: """
            Reads every record (same wire format as serve), clusters with spherical k-means
            (or --centroids), computes exact quotas, and writes the same decision log format.
            It is both a feature and the reference the streaming path is measured against.
            """)

    @Argument(help: "Inputs: files, FIFOs, or - for stdin.")
    var inputs: [String] = []

    @OptionGroup var pruning: PruningOptionGroup
    @OptionGroup var output: OutputOptions

    func run() throws {
        let logger = try output.makeLogger()
        var configuration = DaemonConfiguration()
        configuration.inputs = inputs.isEmpty ? ["-"] : inputs
        configuration.decisionsPath = try output.resolvedDecisionLog()
        configuration.maxRecordSize = output.maxRecordSize
        let engine = OfflineEngine(options: try pruning.options(), centroids: try output.loadCentroids())
        let daemon = try Daemon(configuration: configuration, engine: engine, logger: logger)
        let summary = try daemon.run()
        try output.saveCentroids(engine.centroids, dimension: engine.dimension)
        printToStandardError(summary.report)
        // As a filter, a failed input is a failed run (like zcat); as a service it is logged only.
        if summary.inputErrors > 0 { throw ExitCode(1) }
    }
}
