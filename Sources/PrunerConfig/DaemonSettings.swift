// Everything `prunerd serve` decides before it opens anything: whether it is a
// filter or a service, where the checkpoint and the control socket go, how many
// threads, the limits, Redis and cluster options, with the rules that make
// them depend on each other. A value that tests construct in-process.
import PrunerCore
import PrunerDaemon

/// The settings of `prunerd serve` after layering the command line over the
/// configuration file over the defaults, in an environment.
public struct DaemonSettings: Sendable {
    /// The layers these settings were resolved from (a SIGHUP reads the file again under the same command line).
    public var layers: SettingsLayers
    /// Decision log, state directory, centroids, kept ids, record size, log level.
    public var output: OutputSettings
    /// The DBP options (in cluster mode `update` auto is frozen).
    public var pruning: PruningOptions
    /// `--cluster`: this daemon as one shard of a pruner shared through Redis.
    public var cluster: ClusterConfiguration?
    /// `--unique-ids`.
    public var uniqueIDs: Bool
    /// `--expected-records`: the size of a new id filter.
    public var expectedRecords: Int
    /// The unix and TCP listeners of `--listen`.
    public var listeners: [ListenAddress]
    /// `--reply`: decision lines go back on every listener's connections.
    public var reply: Bool
    /// The redis:// streams of `--listen`.
    public var redisStreams: [RedisStreamConfiguration]
    /// `--decisions redis://…`.
    public var decisionStream: RedisDecisionStreamConfiguration?
    /// The Redis consumer name: `--consumer`, else the shard id; nil leaves it to the stream (host name and pid).
    public var consumer: String?
    /// `--claim-after`, seconds.
    public var claimAfter: Double?
    /// `--decisions-maxlen`.
    public var decisionsMaxlen: Int
    /// A service (listeners, Redis streams or sockets passed by systemd) runs until stopped; a filter until its inputs end.
    public var isService: Bool
    /// Seconds between checkpoints, nil for none.
    public var checkpointEvery: Double?
    /// The control socket of `prunerd status`, nil for none.
    public var control: ControlSocket?
    /// Threads of the assignment and duplicate checks.
    public var threads: Int
    /// `--metrics`.
    public var metrics: ListenAddress?
    /// `--fresh`: do not restore the checkpoint.
    public var fresh: Bool
    /// `--suspend-on-stop`: a stop checkpoints the held records undecided (DaemonConfiguration.suspendOnStop).
    public var suspendOnStop: Bool
    /// Connection limits and socket permissions.
    public var limits: ConnectionLimits
    /// `--ids`, `--scores`, `--npz-key` of matrix inputs (command line only).
    public var matrixIDs: String?, matrixScores: String?, npzKey: String?

    /// Where the control socket goes, and whether that is inside the state directory (which is then created).
    public struct ControlSocket: Sendable, Equatable {
        /// The socket's path.
        public var path: String
        /// Whether it is the default under the state directory.
        public var inStateDirectory: Bool
    }

    /// What clients may make the daemon hold, and who may connect.
    public struct ConnectionLimits: Sendable, Equatable {
        /// `--max-connections`.
        public var maxConnections: Int
        /// `--connection-buffer`, bytes.
        public var connectionBuffer: Int
        /// `--max-reply-backlog`, bytes.
        public var maxReplyBacklog: Int
        /// `--socket-group`.
        public var socketGroup: String?
        /// `--max-hold`, seconds; nil when 0 (wait for more input or the stop).
        public var maxHold: Double?
    }

    /// The checkpoint's path: `checkpointFile`, when checkpoints are on.
    public var checkpointPath: String? { checkpointEvery == nil ? nil : checkpointFile }

    /// `checkpoint.prnckpt` in the state directory, where checkpoints are written when they are on
    /// (and where a run with them off still finds an earlier run's, to say it does not resume it).
    public var checkpointFile: String { output.stateDirectory + "/checkpoint.prnckpt" }

    /// Whether the state directory must exist before the daemon starts (checkpoints, or the control socket in it).
    public var needsStateDirectory: Bool { checkpointEvery != nil || control?.inStateDirectory == true }

    /// Resolves every setting.
    /// - Throws: `SettingsError`: a mistyped file value, a value out of range, options that contradict each other,
    ///   an address that does not parse.
    public init(layers: SettingsLayers, environment: SettingsEnvironment) throws(SettingsError) {
        self.layers = layers
        output = try OutputSettings(layers: layers, environment: environment)
        var pruning = try PruningOptions(layers: layers)
        cluster = try Self.cluster(layers: layers, options: &pruning)
        self.pruning = pruning
        uniqueIDs = try layers.resolved(ServeOptions.uniqueIDs)
        expectedRecords = try layers.resolved(ServeOptions.expectedRecords)
        guard expectedRecords >= 1, expectedRecords <= Self.maximumExpectedRecords else {
            throw .invalid("--expected-records must be between 1 and \(Self.maximumExpectedRecords) (got \(expectedRecords))")
        }

        let addresses = try layers.value(ServeOptions.listen) ?? []
        do throws(ListenAddressError) {
            listeners = try addresses.filter { !RedisURL.isRedisURL($0) }.map { text throws(ListenAddressError) in
                try ListenAddress(parsing: text)
            }
        } catch { throw .listenAddress(error) }
        reply = try layers.resolved(ServeOptions.reply)
        consumer = try layers.value(ServeOptions.consumer) ?? cluster?.shardID
        claimAfter = try layers.value(ServeOptions.claimAfter)
        if let claimAfter, !(claimAfter > 0) { throw .invalid("--claim-after must be a positive number of seconds") }
        decisionsMaxlen = try layers.resolved(ServeOptions.decisionsMaxlen)
        let consumer = self.consumer, claimAfter = self.claimAfter, maxLength = decisionsMaxlen
        do throws(RedisURLError) {
            redisStreams = try addresses.filter(RedisURL.isRedisURL).map { text throws(RedisURLError) in
                try RedisStreamConfiguration(url: try RedisURL(parsing: text), consumer: consumer, claimAfter: claimAfter)
            }
            decisionStream = try output.decisionStream.map { text throws(RedisURLError) in
                try RedisDecisionStreamConfiguration(url: try RedisURL(parsing: text), maxLength: maxLength)
            }
        } catch { throw .redisURL(error) }

        isService = !listeners.isEmpty || environment.socketActivated || !redisStreams.isEmpty
        checkpointEvery = try layers.value(ServeOptions.checkpointEvery) ?? (isService ? 60 : nil)
        // An infinite or huge period trapped converting to the timer's milliseconds.
        if let every = checkpointEvery, !(every >= 0 && every <= 1e9) {
            throw .invalid("--checkpoint-every must be 0 (only at start and stop) or a number of seconds up to 1e9, not \(every)")
        }
        control = try Self.controlSocket(layers: layers, environment: environment, stateDirectory: output.stateDirectory,
                                         isService: isService)
        threads = max(1, try layers.value(ServeOptions.threads) ?? environment.onlineCPUs)
        let metrics = try layers.value(ServeOptions.metrics)
        do throws(ListenAddressError) {
            self.metrics = try metrics.map { text throws(ListenAddressError) in try ListenAddress(parsing: text) }
        } catch { throw .listenAddress(error) }
        fresh = try layers.resolved(ServeOptions.fresh)
        suspendOnStop = try layers.resolved(ServeOptions.suspendOnStop)
        if suspendOnStop && checkpointEvery == nil {
            throw .invalid("--suspend-on-stop needs checkpoints (--checkpoint-every, or listening): without one the held records would be lost")
        }
        if suspendOnStop && cluster != nil {
            throw .invalid("--suspend-on-stop is not for --cluster: a shard decides what it holds against the cluster when it stops")
        }
        limits = try Self.limits(layers: layers)
        matrixIDs = layers.commandLine.value(ServeOptions.ids)
        matrixScores = layers.commandLine.value(ServeOptions.scores)
        npzKey = layers.commandLine.value(ServeOptions.npzKey)
    }

    /// Largest `--expected-records` accepted (a 9.6 GiB filter).
    public static let maximumExpectedRecords = 1 << 32

    /// The record streams to read: the given ones, or stdin for a filter given none (and no matrix).
    public func inputs(given streams: [String], matrices: Bool) -> [String] {
        streams.isEmpty && !matrices && !isService ? ["-"] : streams
    }

    /// The DBP options a SIGHUP applies: the same command line over the file as it is now.
    public func reloadedOptions(file: ConfigFile?) throws(SettingsError) -> PruningOptions {
        try PruningOptions(layers: SettingsLayers(commandLine: layers.commandLine, file: file))
    }

    /// Copies the settings into the daemon's configuration (inputs, engine and start plan excluded).
    public func apply(to configuration: inout DaemonConfiguration) {
        configuration.listeners = listeners.map { ListenerConfiguration(address: $0, replies: reply) }
        configuration.redisStreams = redisStreams
        configuration.decisionStream = decisionStream
        configuration.decisionsPath = output.decisions
        configuration.maxRecordSize = output.maxRecordSize
        configuration.keptIdsPath = output.keptIds
        configuration.maxConnections = limits.maxConnections
        configuration.connectionBufferSize = limits.connectionBuffer
        configuration.maxReplyBacklog = limits.maxReplyBacklog
        configuration.socketGroup = limits.socketGroup
        configuration.maxHold = limits.maxHold
        configuration.cluster = cluster
        if let every = checkpointEvery, let path = checkpointPath {
            configuration.checkpointPath = path
            configuration.checkpointEvery = every
        }
        configuration.suspendOnStop = suspendOnStop
        configuration.controlPath = control?.path
        configuration.metrics = metrics
    }

    /// `--cluster` and its shard options, or nil without it; in cluster mode `update` auto resolves to frozen.
    private static func cluster(layers: SettingsLayers, options: inout PruningOptions) throws(SettingsError) -> ClusterConfiguration? {
        guard let text = try layers.value(ServeOptions.cluster) else {
            if layers.commandLine.value(ServeOptions.shardID) != nil || layers.commandLine.value(ServeOptions.syncEvery) != nil {
                throw .invalid("--shard-id and --sync-every need --cluster")
            }
            return nil
        }
        let url: RedisURL
        do throws(RedisURLError) { url = try RedisURL(parsing: text) } catch { throw .invalid("--cluster \(error)") }
        if options.update == .auto { options.update = .frozen }
        do throws(ClusterOptionsError) { try options.validateForCluster() } catch {
            throw .invalid(error.message(naming: ServeOptions.flag(for: error.setting), cluster: "--\(ServeOptions.cluster.name)"))
        }
        let shardID = try layers.value(ServeOptions.shardID)
        let syncEvery = try layers.value(ServeOptions.syncEvery)
        do throws(ClusterConfigurationError) {
            return try ClusterConfiguration(url: url, shardID: shardID, syncEvery: syncEvery)
        } catch {
            throw .invalid("\(error)")
        }
    }

    /// `--control`, else for a service `$RUNTIME_DIRECTORY/control.sock` or `<state dir>/control.sock`; a filter has none.
    private static func controlSocket(layers: SettingsLayers, environment: SettingsEnvironment, stateDirectory: String,
                                      isService: Bool) throws(SettingsError) -> ControlSocket? {
        if let control = try layers.value(ServeOptions.control) { return ControlSocket(path: control, inStateDirectory: false) }
        guard isService else { return nil }
        if let runtime = environment.runtimeDirectory { return ControlSocket(path: runtime + "/control.sock", inStateDirectory: false) }
        return ControlSocket(path: stateDirectory + "/control.sock", inStateDirectory: true)
    }

    /// The limits, each checked against its floor.
    private static func limits(layers: SettingsLayers) throws(SettingsError) -> ConnectionLimits {
        let maxConnections = try layers.resolved(ServeOptions.maxConnections)
        let buffer = try layers.resolved(ServeOptions.connectionBuffer)
        let replies = try layers.resolved(ServeOptions.maxReplyBacklog)
        guard maxConnections >= 1 else { throw .invalid("--max-connections must be at least 1") }
        guard buffer >= 4096 else { throw .invalid("--connection-buffer must be at least 4096 bytes") }
        guard replies >= 4096 else { throw .invalid("--max-reply-backlog must be at least 4096 bytes") }
        let socketGroup = try layers.value(ServeOptions.socketGroup)
        let hold = try layers.resolved(ServeOptions.maxHold)
        guard hold >= 0, hold.isFinite else { throw .invalid("--max-hold must be 0 or more seconds") }
        return ConnectionLimits(maxConnections: maxConnections, connectionBuffer: buffer, maxReplyBacklog: replies,
                                socketGroup: socketGroup, maxHold: hold > 0 ? hold : nil)
    }
}
