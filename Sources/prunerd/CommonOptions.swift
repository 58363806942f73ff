// Options and helpers shared by the subcommands: paths, centroids files, logging.
import ArgumentParser
import Logging
import PrunerConfig
import PrunerCore
import PrunerDaemon
import PrunerIO
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The environment's measurement overrides of the assignment kernel.
enum KernelOverrides {
    /// The assignment kernel as the measurement overrides say, read once here so the
    /// core reads no environment: PRUNERD_TILES=0 (no screen), PRUNERD_SCREEN=amx|vnni|none,
    /// PRUNERD_KERNEL=12x32|6x16 (every choice decides alike; see docs/performance.md).
    static let choice = KernelChoice(tiles: environment("PRUNERD_TILES"), screen: environment("PRUNERD_SCREEN"),
                                     kernel: environment("PRUNERD_KERNEL"))

    /// A variable of the environment; nil when unset or empty.
    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

/// Options of every subcommand that writes a decision log.
struct OutputOptions: ParsableArguments, Sendable {
    @Option(name: .customLong(ServeOptions.decisions.name),
            help: "Decision log (JSON Lines, appended): a path, or - for stdout. Default: $LOGS_DIRECTORY/decisions.jsonl under systemd, else <state dir>/decisions.jsonl. serve also takes redis://HOST:PORT/STREAM (given once more, beside the log): each engine batch's lines also go to that Redis stream as one entry (XADD, field lines; docs/scale-out.md).")
    var decisions: [String] = []

    @Option(name: .customLong(ServeOptions.stateDir.name),
            help: "State directory (checkpoints). Default: $STATE_DIRECTORY, else $XDG_STATE_HOME/prunerd, else ~/.local/state/prunerd.")
    var stateDirectory: String?

    @Option(name: .customLong(ServeOptions.centroids.name), help: "Use these centroids (.npy, k × d, float32 or float16) instead of k-means.")
    var centroids: String?

    @Option(name: .customLong(ServeOptions.saveCentroids.name), help: "Write the final centroids (.npy, float32, k × d) on exit.")
    var saveCentroids: String?

    @Option(name: .customLong(ServeOptions.keptIds.name),
            help: "Also write the kept records' ids here when the run ends (and on SIGHUP): one per line, or DataComp's sorted u8,u8 subset array when FILE ends .npy (ids must be 32-hex-digit uids). Written atomically. After a restart from the state directory it covers the whole run (the decision log's earlier kept ids too).")
    var keptIds: String?

    @Option(name: .customLong(ServeOptions.maxRecordSize.name), help: "Largest record accepted, in bytes (PRN1 length, JSON line; default 1 MiB: 64 times a d = 4096 float32 record, and a bound on what one input can make the daemon hold).")
    var maxRecordSize: Int?

    @Option(name: .customLong(ServeOptions.logLevel.name), help: "Daemon log level: trace, debug, info (default), notice, warning, error, critical.")
    var logLevel: String?

    @Flag(name: .customLong(ServeOptions.append.name),
          help: "When the decision log already holds lines and there is no checkpoint to resume from, keep adding to it (without this or --overwrite, prunerd refuses to start).")
    var append = false

    @Flag(name: .customLong(ServeOptions.overwrite.name),
          help: "When the decision log already holds lines and there is no checkpoint to resume from, start it anew (truncate it). A restart from a checkpoint cuts the log back to the checkpoint's length instead.")
    var overwrite = false

    /// What these options say, as command-line values of the option table.
    func record(into values: inout CommandLineValues) {
        values.set(ServeOptions.decisions, decisions.isEmpty ? nil : decisions)
        values.set(ServeOptions.stateDir, stateDirectory)
        values.set(ServeOptions.centroids, centroids)
        values.set(ServeOptions.saveCentroids, saveCentroids)
        values.set(ServeOptions.keptIds, keptIds)
        values.set(ServeOptions.maxRecordSize, maxRecordSize)
        values.set(ServeOptions.logLevel, logLevel)
        values.set(ServeOptions.append, flag: append)
        values.set(ServeOptions.overwrite, flag: overwrite)
    }

    /// The settings without a configuration file: command line, else default.
    func resolve() throws -> OutputSettings {
        var values = CommandLineValues()
        record(into: &values)
        return try resolvingForCommandLine { () throws(SettingsError) in
            try OutputSettings(layers: SettingsLayers(commandLine: values), environment: .current())
        }
    }
}

extension OutputSettings {
    /// Publishes the run's kept set (`--kept-ids`) and says where it went.
    func publishKeptIds(of daemon: Daemon, kept: Int) throws {
        guard let writer = daemon.keptIds else { return }
        do {
            try writer.publish()
        } catch {
            throw RunError("--kept-ids \(writer.path) not written: \(error) (the decision log has every decision)")
        }
        writer.removeSpool()
        printToStandardError("kept ids: \(writer.path) (\(kept) records" + (KeptIdsFile.wantsNPY(writer.path) ? ", DataComp u8,u8 array)\n" : ")\n"))
    }

    /// Checks where the decision log goes. A path that was asked for must be in an
    /// existing directory (a typo must not create a tree of directories); the default
    /// one, under prunerd's own state or logs directory, is created.
    func checkDecisionLogLocation() throws {
        if !decisionsGiven, decisions != "-", let slash = decisions.lastIndex(of: "/"), slash != decisions.startIndex {
            try FileSystem.createDirectory(atPath: String(decisions[..<slash]))
        }
        try StartPreparation.checkLogLocation(decisions)
    }

    /// Loads `--centroids`; a file that is no `clusters` × d matrix is a usage error.
    func loadCentroidsForCommandLine(clusters: Int) throws -> (values: [Float], dimension: Int)? {
        try resolvingForCommandLine { () throws(SettingsError) in try loadCentroids(clusters: clusters) }
    }

    /// Writes `--save-centroids`.
    func saveCentroids(_ values: [Float], dimension: Int?) throws {
        guard let path = saveCentroids, let dimension, dimension > 0, !values.isEmpty else { return }
        let bytes = NPYArray.encodeFloat32(rows: values.count / dimension, columns: dimension, values: values)
        try FileSystem.writeFileAtomically(bytes, toPath: path)
    }

    /// Sets up swift-log with the daemon's handler.
    func makeLogger() throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level '\(logLevel)'")
        }
        LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, level: level) }
        return Logger(label: "prunerd")
    }
}

extension DaemonSummary {
    /// The one-paragraph summary printed at the end of a run.
    var report: String {
        func percent(_ part: Int) -> String {
            tally.total == 0 ? "0.0%" : String(format1: 100 * Double(part) / Double(tally.total)) + "%"
        }
        var text = "records: \(tally.total)  kept: \(tally.kept) (\(percent(tally.kept)))  dropped: \(tally.dropped)  "
        text += "rejected: \(tally.rejected)  rate: \(Int(rate.rounded())) records/s  (\(String(format1: seconds)) s)\n"
        if !tally.rejectedByReason.isEmpty {
            text += "rejected by reason: " + tally.rejectedByReason.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        if let repeats = tally.droppedByReason["duplicate_id"], repeats > 0 {
            text += "dropped as duplicate_id (--unique-ids: the id was already decided): \(repeats)\n"
        }
        if inputErrors > 0 { text += "inputs closed on error: \(inputErrors) (see the log above)\n" }
        if latency.total > 0 {
            text += "latency (read → decision written): p50 \(String(format1: latency.quantileMilliseconds(0.5))) ms, "
            text += "p99 \(String(format1: latency.quantileMilliseconds(0.99))) ms\n"
        }
        text += "decision log: \(decisionsPath == "-" ? "stdout" : decisionsPath)\n"
        return text
    }
}

extension DaemonSummary {
    /// What a user must know about how the run went, beyond the figures: an empty
    /// input, every record rejected (both fail the run), k above the records, a
    /// stream that ended inside its warm-up, records left undecided by `--suspend-on-stop`.
    /// - Parameter warmupAtStart: the streaming engine was in its warm-up when the run began (nil: offline).
    func outcome(options: PruningOptions, warmupAtStart: Bool?) -> (notes: [String], failed: Bool) {
        var notes: [String] = []
        var failed = false
        // Repeated ids (`--unique-ids`) never reached the engine: they are not records it clustered.
        let repeats = tally.droppedByReason["duplicate_id"] ?? 0
        let valid = tally.kept + tally.dropped - repeats
        if let suspended = suspendedRecords {
            notes.append("suspended (--suspend-on-stop): \(suspended) records held undecided in the checkpoint; "
                + "the next start with the same command decides them")
        }
        if tally.total > 0 && repeats == tally.total {
            notes.append("every record's id was already decided (--unique-ids): all \(repeats) were answered drop/duplicate_id, nothing new was decided")
        } else if tally.total == 0 && resumedRecords > 0 {
            notes.append("nothing left to decide: the \(resumedRecords) records of the inputs were all decided or held before the checkpoint")
        } else if tally.total == 0 && suspendedRecords == nil {
            notes.append("no records: the input was empty" + (inputErrors > 0 ? " or could not be read (see above)" : ""))
            failed = true
        } else if tally.rejected == tally.total {
            let reasons = tally.rejectedByReason.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            notes.append("every record was rejected (\(reasons)): nothing was kept; docs/wire-format.md#3-validation says why each reason happens")
            failed = true
        }
        if valid > 0 && valid < options.clusters {
            notes.append("--clusters \(options.clusters) is more than the \(valid) valid records: most concepts are empty or single "
                + "records and the quotas say little; lower --clusters (the default --warmup, 300·k, gives k-means 300 records per concept)")
        }
        if warmupAtStart == true, suspendedRecords == nil, valid > 0, valid < options.clusteringWarmup {
            let named = options.lookahead > options.warmup ? "--lookahead \(options.lookahead), longer than --warmup"
                                                           : "--warmup \(options.warmup)"
            notes.append("the run ended inside the warm-up (\(valid) of \(named) records): every record was decided "
                + "at the end, from k-means over those \(valid) alone; for streaming decisions give more "
                + "records than that, or lower it")
        }
        return (notes, failed)
    }
}

extension String {
    /// One digit after the point, without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

/// Writes to stderr (summaries must not mix with decisions on stdout).
func printToStandardError(_ text: String) {
    _ = try? FileDescriptor.standardError.writeAll(text.utf8)
}

/// Runs a settings resolution, its errors as the command line reports them (`SettingsError.forCommandLine`).
func resolvingForCommandLine<Value>(_ resolve: () throws(SettingsError) -> Value) throws -> Value {
    do { return try resolve() } catch { throw error.forCommandLine }
}

extension SettingsError {
    /// The error as the command line reports it: an option out of range or contradicting another is a
    /// usage error (ValidationError prints the usage), a configuration file's or an address's error is
    /// printed as it is.
    var forCommandLine: any Error {
        switch self {
        case .invalid(let message): return ValidationError(message)
        case .config(let error): return error
        case .listenAddress(let error): return error
        case .redisURL(let error): return error
        }
    }
}

/// A run that cannot go on or did not do what was asked (exit 1), said in one sentence.
/// Unlike ValidationError it prints no usage: the command line was right, the data was not.
struct RunError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
