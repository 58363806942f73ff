// `prunerd serve`: the streaming daemon.
import ArgumentParser
import PrunerCore
import PrunerDaemon

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Decide keep/drop for records as they stream in.",
        discussion: """
            Each INPUT is a file, a FIFO or - (stdin); with no INPUT and no --listen, stdin.
            With only INPUTs, prunerd exits 0 once all reach EOF and every decision is
            written, so `zcat x | prunerd serve` works as a filter. With --listen it runs
            until SIGTERM/SIGINT, then decides every record already read and exits.
            """)

    @Argument(help: "Inputs: files, FIFOs, or - for stdin.")
    var inputs: [String] = []

    @Option(name: .customLong("listen"),
            help: "Listen on unix:PATH or tcp:HOST:PORT (repeatable); each connection is an input. TCP without HOST binds 127.0.0.1.")
    var listen: [String] = []

    @Flag(name: .customLong("reply"), help: "Write each record's decision line back on its connection (all listeners).")
    var reply = false

    @OptionGroup var pruning: PruningOptionGroup
    @OptionGroup var output: OutputOptions

    func run() throws {
        let logger = try output.makeLogger()
        var configuration = DaemonConfiguration()
        configuration.listeners = try listen.map { ListenerConfiguration(address: try ListenAddress(parsing: $0), replies: reply) }
        configuration.inputs = inputs.isEmpty && listen.isEmpty ? ["-"] : inputs
        configuration.decisionsPath = try output.resolvedDecisionLog()
        configuration.maxRecordSize = output.maxRecordSize
        let engine = try StreamingEngine(options: try pruning.options(), centroids: try output.loadCentroids())
        let daemon = try Daemon(configuration: configuration, engine: engine, logger: logger)
        let summary = try daemon.run()
        try output.saveCentroids(engine.centroids, dimension: engine.dimension)
        printToStandardError(summary.report)
        // As a filter, a failed input is a failed run (like zcat); as a service it is logged only.
        if listen.isEmpty && summary.inputErrors > 0 { throw ExitCode(1) }
    }
}
