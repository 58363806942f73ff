// Where a run's outputs go (decision log, state directory, centroids, kept ids)
// and the log level: the settings every subcommand that writes a decision log shares.
import PrunerDaemon
import PrunerIO

/// Output settings after layering.
public struct OutputSettings: Sendable {
    /// The decision log: a path, or - for stdout.
    public var decisions: String
    /// Whether `decisions` was asked for (command line or file) rather than the default under the state directory.
    public var decisionsGiven: Bool
    /// `--decisions redis://…`: the Redis stream the lines also go to (serve only).
    public var decisionStream: String?
    /// `--append`, `--overwrite` or neither.
    public var existingLog: ExistingLogChoice
    /// The state directory (checkpoints, the default control socket and log).
    public var stateDirectory: String
    /// `--centroids`.
    public var centroids: String?
    /// `--save-centroids`.
    public var saveCentroids: String?
    /// `--kept-ids`.
    public var keptIds: String?
    /// `--max-record-size`.
    public var maxRecordSize: Int
    /// `--log-level`.
    public var logLevel: String

    /// The settings of these layers in this environment.
    /// - Throws: `SettingsError.invalid` for more than one log or stream, or `--append` with `--overwrite`.
    public init(layers: SettingsLayers, environment: SettingsEnvironment) throws(SettingsError) {
        stateDirectory = try layers.value(ServeOptions.stateDir) ?? environment.stateDirectory
        let all = try layers.value(ServeOptions.decisions) ?? []
        let streams = all.filter(RedisURL.isRedisURL)
        let files = all.filter { !RedisURL.isRedisURL($0) }
        guard files.count <= 1 else { throw .invalid("--decisions names \(files.count) logs (\(files.joined(separator: ", "))): give one path (or -), and at most one redis:// stream beside it") }
        guard streams.count <= 1 else { throw .invalid("--decisions names \(streams.count) Redis streams: give at most one") }
        decisions = files.first ?? environment.decisionLog(stateDirectory: stateDirectory)
        decisionsGiven = files.first != nil
        decisionStream = streams.first
        let append = try layers.resolved(ServeOptions.append)
        let overwrite = try layers.resolved(ServeOptions.overwrite)
        if append && overwrite { throw .invalid("--append and --overwrite exclude each other: keep adding to the log, or start it anew") }
        existingLog = append ? .append : (overwrite ? .overwrite : .refuse)
        centroids = try layers.value(ServeOptions.centroids)
        saveCentroids = try layers.value(ServeOptions.saveCentroids)
        keptIds = try layers.value(ServeOptions.keptIds)
        maxRecordSize = try layers.resolved(ServeOptions.maxRecordSize)
        // The decoders need room for a PRN1 header (their precondition trapped on less).
        guard maxRecordSize >= 16 else { throw .invalid("--max-record-size must be at least 16 bytes, not \(maxRecordSize)") }
        logLevel = try layers.resolved(ServeOptions.logLevel)
    }

    /// Why a centroid matrix cannot be used, if it cannot: a value that is not finite (it would
    /// make that concept's every similarity NaN) or a row of zeros (a centroid needs a direction).
    static func centroidProblem(_ values: [Float], columns d: Int) -> String? {
        guard d > 0 else { return nil }
        if let at = values.firstIndex(where: { !$0.isFinite }) {
            return "row \(at / d), column \(at % d) is \(values[at]), not a finite number"
        }
        for j in 0..<(values.count / d) where values[(j * d)..<(j * d + d)].allSatisfy({ $0 == 0 }) {
            return "row \(j) is all zeros: a centroid needs a direction"
        }
        return nil
    }

    /// Loads `--centroids` for `clusters` concepts: `serve` and `offline` both refuse a file
    /// whose row count is not `--clusters` (offline used to take the file's, silently).
    /// - Throws: `SettingsError.invalid` naming the file when it cannot be read as a k × d matrix
    ///   of usable centroids.
    public func loadCentroids(clusters: Int) throws(SettingsError) -> (values: [Float], dimension: Int)? {
        guard let path = centroids else { return nil }
        let array: NPYArray
        do {
            array = try NPYArray.decode(try FileSystem.readFile(atPath: path))
        } catch {
            throw .invalid("--centroids \(path): \(error)")
        }
        if let problem = Self.centroidProblem(array.values, columns: array.columns) {
            throw .invalid("--centroids \(path): \(problem)")
        }
        let rows = array.columns > 0 ? array.values.count / array.columns : 0
        guard rows == clusters else {
            throw .invalid("--centroids \(path): \(rows) rows, but --clusters is \(clusters) (pass --clusters \(rows), or a file of \(clusters) rows)")
        }
        return (array.values, array.columns)
    }
}
