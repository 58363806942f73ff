// The daemon's public vocabulary: what it runs on (`DaemonConfiguration` and its
// listeners and activated sockets), what it reports while running (`DaemonProgress`)
// and what it returns when done (`DaemonSummary`).
import PrunerCore
import PrunerIO

/// What the daemon runs on.
public struct DaemonConfiguration: Sendable {
    /// Inputs given on the command line: paths, FIFOs or `-` for stdin.
    public var inputs: [String] = []
    /// `.npy`/`.npz` matrices and clip-retrieval folders given on the command line, read in order as one input.
    public var matrixStream: MatrixStream?
    /// Listening sockets; each connection is an independent input.
    public var listeners: [ListenerConfiguration] = []
    /// The decision log: a path, or `-` for stdout.
    public var decisionsPath: String = "-"
    /// The largest record accepted (PRN1 `length`, JSON line length).
    public var maxRecordSize: Int = 1 << 20
    /// Records waiting for the engine before reading pauses (backpressure).
    public var maxPendingRecords: Int = 4096
    /// Decision-log bytes waiting for the disk before reading pauses (about 40,000 lines).
    public var maxLogBacklog: Int = 8 << 20
    /// Connections served at once (`--max-connections`); one more is accepted and closed at once, with a log line.
    public var maxConnections: Int = 1024
    /// Read buffer per connection, in bytes (`--connection-buffer`).
    public var connectionBufferSize: Int = 64 * 1024
    /// Reply bytes queued for one reply-mode client before its reading pauses (`--max-reply-backlog`).
    public var maxReplyBacklog: Int = 4 << 20
    /// Group given to unix listening sockets (mode 0660), or nil to keep the daemon's own group.
    public var socketGroup: String?
    /// `--max-hold`: seconds a record may wait undecided while the engine is idle (look-ahead,
    /// warm-up) before everything held is decided against the quotas of that moment; nil: no limit.
    public var maxHold: Double?
    /// `--listen redis://…`: Redis streams read through a consumer group (docs/scale-out.md).
    public var redisStreams: [RedisStreamConfiguration] = []
    /// `--decisions redis://…`: decision lines also go to this Redis stream.
    public var decisionStream: RedisDecisionStreamConfiguration?
    /// Listening sockets handed over by systemd (socket activation).
    public var activatedSockets: [ActivatedSocket] = []
    /// Unix socket answering `prunerd status`, or nil for none.
    public var controlPath: String?
    /// Prometheus text exposition endpoint (`GET /metrics`), or nil for none.
    public var metrics: ListenAddress?
    /// Where checkpoints are written (and restored from by the command line), or nil for none.
    public var checkpointPath: String?
    /// Seconds between checkpoints while running (0: only at stop).
    public var checkpointEvery: Double = 0
    /// `--suspend-on-stop`: a stop signal leaves the held (look-ahead, warm-up) records
    /// undecided in the last checkpoint instead of deciding them against the quotas of that
    /// moment, so a restart with the same command ends with an uninterrupted run's kept set.
    /// Needs `checkpointPath`.
    public var suspendOnStop = false
    /// The assignment kernel the engine was given (for the startup log; the CLI reads PRUNERD_SCREEN and friends).
    public var kernel = KernelChoice.fastest
    /// Called on the loop thread about five times a second with the run's figures (the
    /// progress line on a terminal), and once more when the run ends; nil for none.
    public var progress: (@Sendable (DaemonProgress) -> Void)?
    /// `--kept-ids FILE`: where the kept records' ids go (text, or DataComp's `.npy`), or nil.
    public var keptIdsPath: String?
    /// Re-reads the live options on SIGHUP (config file merged with the command line) and names what changed.
    public var reloadOptions: OptionsReload?
    /// The resume point restored from the checkpoint (its source table is taken
    /// over), or nil: then a first checkpoint is written at start, so that a crash
    /// before the first periodic one still resumes.
    public var resume: ResumePoint?
    /// Where resumed inputs start, and what the start-up checks found to report.
    public var startPlan = StartPlan()
    /// `--cluster`: this daemon is one shard of a pruner shared through Redis (Cluster/).
    public var cluster: ClusterConfiguration?

    public init() {}
}

/// A run's figures for a progress display.
public struct DaemonProgress: Sendable {
    /// Input bytes read (raw file bytes; a matrix's `.npy` bytes after inflating).
    public var bytesRead: UInt64
    public var recordsRead: UInt64
    public var tally: DecisionTally
    /// The warm-up's (held, target) while it lasts, as of the engine's last idle moment.
    public var warmup: (seen: Int, target: Int)?
}

/// A listening socket passed by systemd, with its FileDescriptorName=.
public struct ActivatedSocket: Sendable {
    public var fd: Int32
    public var name: String
    /// Names ending in `-reply` get reply mode.
    public var replies: Bool { name.hasSuffix("-reply") }

    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }
}

/// One `--listen` option.
public struct ListenerConfiguration: Sendable {
    public var address: ListenAddress
    /// `--reply`: write each record's decision line back on its connection.
    public var replies: Bool

    public init(address: ListenAddress, replies: Bool = false) {
        self.address = address
        self.replies = replies
    }
}

/// Figures of a finished run, printed by the command line.
public struct DaemonSummary: Sendable {
    public var tally: DecisionTally
    public var seconds: Double
    public var inputErrors: Int
    public var decisionsPath: String
    /// Record-to-decision latency (read → line written).
    public var latency: LatencyHistogram
    /// Records of resumed file inputs skipped because they reached the engine before the checkpoint.
    public var resumedRecords: UInt64 = 0
    /// `--suspend-on-stop`: records the engine held undecided at the stop (the checkpoint holds
    /// them; the next start decides them), or nil when the run was not suspended.
    public var suspendedRecords: UInt64?

    /// Records per second over the whole run.
    public var rate: Double { seconds > 0 ? Double(tally.total) / seconds : 0 }
}
