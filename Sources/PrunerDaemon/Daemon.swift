// The daemon: wires inputs and listeners → decoders → batcher → engine worker
// → decision log on one libuv loop, with backpressure and an orderly drain.
//
// Invariant: every record that enters gets exactly one decision line, in input
// order per input. Records already read when the daemon stops are still decided.
import CAllocatorPolicy
import CLibUV
import Logging
import PrunerCore
import PrunerIO
#if canImport(Glibc)
import Glibc
#endif

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

/// The prunerd daemon.
public final class Daemon: InputDelegate {
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let loop: EventLoop
    private let sources = SourceTable()
    private let worker: EngineWorker
    private let batcher: RecordBatcher
    private var log: DecisionLog!

    private var inputs: [ObjectIdentifier: Input] = [:]
    private var endedInputs: [UInt32: Input] = [:]
    private var decidedPerSource: [UInt32: Int] = [:]
    private var listeners: [Listener] = []
    private var signals: [SignalWatcher] = []
    private var pendingOpens = 0
    private var connectionCount = 0
    /// Connections whose handle is still open (reading, or writing their last replies).
    private var openConnections: [ObjectIdentifier: StreamInput] = [:]
    /// Connections refused since the last log line about it (logged at most once a second).
    private var refusedSinceLog = 0
    private var refusedTotal = 0
    private var lastRefusalLogAt: UInt64 = 0
    private var backpressure: Backpressure
    private var isStopping = false
    private var engineFinished = false
    /// The stop left the engine's held records undecided for the checkpoint (`suspendOnStop`).
    private var engineSuspended = false
    /// When records were read: (records read in all, loop time in ns), one entry per 10 ms
    /// at most; entries whose records are all decided are dropped (see `releaseHeldIfDue`).
    private var readTimes: [(total: UInt64, at: UInt64)] = []
    private var readTimesHead = 0
    private var isShuttingDown = false
    private var tally = DecisionTally()
    private var inputErrors = 0
    private var notifier: SystemdNotifier?
    private var timers: [LoopTimer] = []
    private var services: [Listener] = []
    private var latency = LatencyTracker()
    private var recordsRead: UInt64 = 0
    private var recordsDecided: UInt64 = 0
    private var startedAt: UInt64 = 0
    private var rateWindow: (at: UInt64, decided: UInt64) = (0, 0)
    private var recentRate = 0.0
    private var lastCheckpointAt: UInt64?
    private var checkpoint = CheckpointState.none
    /// Run after the next checkpoint that starts from now on.
    private var afterNextCheckpoint: [() -> Void] = []
    /// Redis stream inputs and the decision stream.
    private let redis = RedisPlumbing()
    /// Asked for while one was being written: take another when it is done.
    private var checkpointAgain = false
    /// Per source index: the `seq` after the last record handed to the engine worker.
    private var handed: [UInt64] = []
    /// File inputs of this run, by source, for the checkpoint's positions.
    private var fileInputs: [(source: UInt32, name: String, identity: FileIdentity)] = []
    private var resumedRecords: UInt64 = 0
    /// The id filter was reported holding more ids than `--expected-records`.
    private var warnedIDFilterOverfilled = false

    /// A checkpoint is taken when the engine is idle and the log written, so that
    /// engine state, input positions and log length agree.
    private enum CheckpointState {
        case none
        /// Asked for: no new engine job starts until it is taken.
        case wanted
        /// Waiting for the log's writes in flight.
        case waitingForLog
        /// Serialised and written on the thread pool.
        case writing
    }
    private var pendingStatusRequests: [() -> Void] = []
    private var bytesRead: UInt64 = 0
    /// Totals over time for `status` and `report` (bounded).
    private var history = StatusHistory()
    /// The kept set of this run (`--kept-ids`), published on SIGHUP here and by the caller after `run()`.
    public private(set) var keptIds: KeptIdsWriter?
    private var cluster: ClusterShard?

    /// - Parameter uniqueIDs: `--unique-ids`: the filter of ids already seen (restored from the
    ///   checkpoint, or new, sized by `--expected-records`); a record with a seen id is answered
    ///   `drop`/`duplicate_id`. nil: ids are not checked. Taken, not copied: pass it with
    ///   `consume`, or its tens of MB are copied when the first batch's ids join it.
    public init(configuration: DaemonConfiguration, engine: DecisionEngine, logger: Logger,
                uniqueIDs: consuming IDFilter? = nil) throws {
        if getenv("PRUNERD_MALLOC_DEFAULTS") == nil { _ = prunerd_apply_allocator_policy() }
        self.configuration = configuration
        self.logger = logger
        self.loop = try EventLoop()
        self.worker = EngineWorker(engine: engine, sources: sources, loop: loop)
        connectionCount = configuration.startPlan.connectionsBefore
        for source in configuration.resume?.sources ?? [] {
            // Connections are numbered on from the restored ones, so that (src, seq) names one record across restarts.
            if let hash = source.name.lastIndex(of: "#"), let number = Int(source.name[source.name.index(after: hash)...]) {
                connectionCount = max(connectionCount, number)
            }
            let index = sources.register(name: source.name, replies: source.replies)
            if let seqs = configuration.startPlan.alreadyLogged[source.name] { worker.alreadyLogged[index] = seqs }
        }
        self.batcher = RecordBatcher(dimension: engine.dimension,
                                     batchCapacity: configuration.maxPendingRecords + Self.batchHeadroom,
                                     uniqueIDs: uniqueIDs.map(UniqueIDs.init(filter:)))
        self.backpressure = Backpressure(maxPendingRecords: configuration.maxPendingRecords,
                                         maxLogBacklog: configuration.maxLogBacklog)
        worker.onSpentBatch = { [batcher] batch in batcher.recycle(batch) }
        worker.onProgress = { [unowned self] in pump() }
        worker.onNotice = { [logger] notice in logger.info("\(notice)") }
    }

    /// Runs until every input ended (pipe mode) or a stop signal drained the daemon.
    public func run() throws -> DaemonSummary {
        startedAt = uv_hrtime()
        rateWindow = (startedAt, 0)
        log = try DecisionLog(path: configuration.decisionsPath, loop: loop)
        log.onError = { [logger] error in logger.error("decision log: \(error)") }
        if let path = configuration.keptIdsPath {
            keptIds = try KeptIdsWriter(path: path)
            // Resumed: the log holds the run's earlier decisions; the kept set covers them too.
            if configuration.resume != nil, configuration.decisionsPath != "-", let kept = try keptIds?.seed(fromLog: configuration.decisionsPath) {
                logger.info("kept ids: \(kept) from the decision log's \(configuration.decisionsPath) decisions before the restart")
            }
            worker.collectsKeptIds = true
        }
        log.onBacklogShrank = { [unowned self] in applyBackpressure() }
        try installSignals()
        let tile = configuration.kernel.registerTile.rawValue
        let supported = NearestCentroid.ScreenKind.supported.map(\.rawValue).joined(separator: ", ")
        let kernel = configuration.kernel.screen.map {
            "\($0.summary), candidates in float32 on the \(tile) register tile "
                + "(this CPU supports: \(supported); PRUNERD_SCREEN=amx|vnni|none picks)"
        } ?? "float32, \(tile) register tile (no screen: this CPU supports "
                + "\(supported.isEmpty ? "none" : supported), PRUNERD_SCREEN=amx|vnni|none picks; "
                + "PRUNERD_KERNEL=12x32|6x16 picks the tile)"
        logger.info("assignment: \(kernel)")
        if !configuration.listeners.isEmpty || !configuration.activatedSockets.isEmpty {
            raiseDescriptorLimit()
            // libuv writes replies with write(2): a reply to a client that already closed its
            // connection must fail that write (EPIPE), not kill the daemon with SIGPIPE. (A filter
            // with no listeners keeps SIGPIPE, so `prunerd serve x --decisions - | head` ends.)
            signal(SIGPIPE, SIG_IGN)
        }
        for listener in configuration.listeners { try listen(listener) }
        for socket in configuration.activatedSockets { try adopt(socket) }
        // A stream entry is acknowledged once its lines are fsynced (a restart keeps them: only lines of
        // inputs read again are cut back to the checkpoint).
        try redis.open(configuration, sources: sources, loop: loop, logger: logger, held: worker.engine.heldOrigins,
                       whenDurable: { [unowned self] in log.whenDurable($0) },
                       write: { [unowned self] lines in log.append(lines) }, start: { start($0) })
        try startServices()
        if let shard = configuration.cluster, let engine = worker.engine as? StreamingEngine {
            cluster = try ClusterShard(configuration: shard, engine: engine, loop: loop, logger: logger, hooks: .init(
                whenEngineIdle: { [unowned self] in whenWorkerIdle($0) }, wake: { [unowned self] in pump() },
                nudge: { [unowned self] in
                    guard checkpoint == .none, worker.isReady, !worker.isBusy, let d = worker.engine.dimension else { return }
                    worker.run(.submit(RecordBatch(dimension: d)), done: didWork)
                }))
        }
        for notice in configuration.startPlan.notices { logger.info("\(notice)") }
        for warning in configuration.startPlan.warnings { logger.warning("\(warning)") }
        if configuration.checkpointPath != nil && configuration.resume == nil { requestCheckpoint() }
        for path in configuration.inputs { open(path) }
        if let stream = configuration.matrixStream { open(stream) }
        notifier = SystemdNotifier()
        notifier?.ready(status: "accepting input")
        startTimers()
        drainIfDone()
        loop.run()
        log.close()
        var summary = DaemonSummary(tally: tally, seconds: Double(uv_hrtime() - startedAt) / 1e9,
                             inputErrors: inputErrors, decisionsPath: configuration.decisionsPath,
                             latency: latency.histogram)
        summary.resumedRecords = resumedRecords
        if engineSuspended { summary.suspendedRecords = recordsRead - recordsDecided }
        return summary
    }

    // MARK: Inputs

    private func open(_ path: String) {
        pendingOpens += 1
        let name = InputOpener.inputName(forPath: path)
        let source = sources.fileSource(name: name)
        InputOpener.open(path: path, source: source, loop: loop, maxRecordSize: configuration.maxRecordSize) { [self] result in
            pendingOpens -= 1
            switch result {
            case .success(let input):
                input.resumesAt = configuration.startPlan.skips[name] ?? 0
                resumedRecords += input.resumesAt
                noteHanded(source: source, upTo: input.resumesAt)
                if let identity = input.identity { fileInputs.append((source, name, identity)) }
                if isStopping { input.close() } else { start(input) }
            case .failure(let error):
                inputErrors += 1
                logger.error("input \(name) not opened: \(error)")
            }
            drainIfDone()
        }
    }

    private func open(_ stream: MatrixStream) {
        start(MatrixInput(stream: stream, loop: loop, maxRecordSize: configuration.maxRecordSize,
                          shardBegins: { [unowned self] shard in beginShard(shard) }))
    }

    /// A matrix shard begins: its source, its identity for the checkpoint, and the
    /// rows a restart skips (as for a file input: `seq` is the row).
    private func beginShard(_ shard: MatrixShard) -> MatrixInput.ShardStart {
        let source = sources.register(name: shard.sourceName)
        let skip = configuration.startPlan.skips[shard.sourceName] ?? 0
        resumedRecords += skip
        noteHanded(source: source, upTo: skip)
        if let identity = FileIdentity.of(path: shard.path) { fileInputs.append((source, shard.sourceName, identity)) }
        return MatrixInput.ShardStart(source: source, resumesAt: skip)
    }

    private func listen(_ listener: ListenerConfiguration) throws {
        let socket = try Listener(address: listener.address, replies: listener.replies, loop: loop,
                                  group: try socketGroupID(),
            onConnection: { [unowned self] listener, handle in accept(handle, from: listener) },
            onError: { [unowned self] listener, error in logger.error("listener \(listener.name): \(error)") })
        listeners.append(socket)
        logger.info("listening on \(listener.address)\(listener.replies ? " (reply mode)" : "")")
        warnIfReachable(listener.address, can: "send records")
    }

    /// TCP on anything but loopback lets every host that can route to it send
    /// records (or read metrics): allowed when asked for, never silently.
    private func warnIfReachable(_ address: ListenAddress, can action: String) {
        guard !address.isLocalOnly else { return }
        logger.warning("\(address) is not a loopback address: any host that can reach it can \(action); prunerd has no authentication (bind 127.0.0.1 or a unix socket unless this is meant)")
    }

    /// Every connection is a descriptor: the soft limit (often 1024) goes up to the
    /// hard one, so `--max-connections` and not EMFILE is what refuses connections.
    private func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let needed = rlim_t(configuration.maxConnections + 64)
        if limit.rlim_cur < needed {
            logger.warning("open-file limit \(limit.rlim_cur) is below --max-connections \(configuration.maxConnections) + 64: connections beyond it fail to be accepted (raise LimitNOFILE=)")
        }
    }

    /// The gid of `--socket-group` (a name or a number), or nil when not given.
    private func socketGroupID() throws(UVError) -> gid_t? {
        guard let name = configuration.socketGroup else { return nil }
        if let number = gid_t(name) { return number }
        guard let entry = getgrnam(name) else {
            throw UVError(code: UV_EINVAL.rawValue, operation: "--socket-group \(name): no such group")
        }
        return entry.pointee.gr_gid
    }

    private func adopt(_ socket: ActivatedSocket) throws {
        let listener = try Listener(adopting: socket.fd, name: "systemd:\(socket.name)", replies: socket.replies, loop: loop,
            onConnection: { [unowned self] listener, handle in accept(handle, from: listener) },
            onError: { [unowned self] listener, error in logger.error("listener \(listener.name): \(error)") })
        listeners.append(listener)
        logger.info("listening on socket passed by systemd (fd \(socket.fd), \(socket.name))\(socket.replies ? " (reply mode)" : "")")
    }

    private func accept(_ handle: StreamHandle, from listener: Listener) {
        guard !isStopping else {
            handle.close()
            return
        }
        guard openConnections.count < configuration.maxConnections else {
            // Accepted and closed at once: the client sees its connection end instead of
            // hanging in the listen backlog, and the open ones keep their resources.
            handle.close()
            refusedTotal += 1
            refusedSinceLog += 1
            // The first refusal is logged at once; more within the second are counted by `tick()`.
            if refusedSinceLog == 1 && uv_hrtime() - lastRefusalLogAt >= 1_000_000_000 { logRefusedConnections() }
            return
        }
        connectionCount += 1
        let name = "\(listener.name)#\(connectionCount)"
        let source = sources.register(name: name, replies: listener.replies)
        let input = StreamInput(name: name, source: source, handle: handle,
                                maxRecordSize: configuration.maxRecordSize, replies: listener.replies,
                                bufferSize: configuration.connectionBufferSize,
                                maxReplyBacklog: configuration.maxReplyBacklog)
        let key = ObjectIdentifier(input)
        openConnections[key] = input
        input.onClosed = { [unowned self] in openConnections[key] = nil }
        input.onReplyBacklogFull = { [unowned self] bytes in
            logger.warning("input \(name): \(bytes) reply bytes not read by the client (--max-reply-backlog \(configuration.maxReplyBacklog)); reading it pauses until the client reads")
        }
        start(input)
    }

    /// Logs refusals not logged yet (from the once-a-second tick).
    private func logRefusedConnections() {
        guard refusedSinceLog > 0 else { return }
        logger.warning("\(refusedSinceLog) connection(s) refused (\(refusedTotal) since start): \(openConnections.count) connections open, the limit (--max-connections \(configuration.maxConnections))")
        refusedSinceLog = 0
        lastRefusalLogAt = uv_hrtime()
    }

    private func start(_ input: Input) {
        input.delegate = self
        inputs[ObjectIdentifier(input)] = input
        // Opened while the others are paused: it starts paused too, and is resumed with them.
        if backpressure.isPaused { input.pause() }
        input.start()
    }

    func input(_ input: Input, didRead bytes: UnsafeRawBufferPointer) {
        bytesRead += UInt64(bytes.count)
        let before = input.deliveredCount
        do throws(StreamError) {
            try input.decode(bytes) { event, origin in batcher.accept(event, origin: origin) }
        } catch {
            end(input, error: "\(error)")
        }
        noteRead(input.deliveredCount - before)
        applyBackpressure()
        pump()
    }

    func inputDidEnd(_ input: Input, error: String?) {
        if let error {
            end(input, error: error)
            return
        }
        let before = input.deliveredCount
        do throws(StreamError) {
            try input.finishDecoding { event, origin in batcher.accept(event, origin: origin) }
            noteRead(input.deliveredCount - before)
            if input.nextSeq < input.resumesAt {
                end(input, error: "ended after \(input.nextSeq) records, before the checkpoint's position \(input.resumesAt) "
                    + "(the file changed while prunerd started)")
                return
            }
            end(input, error: nil)
        } catch {
            end(input, error: "\(error)")
        }
    }

    private func noteRead(_ count: UInt64) {
        guard count > 0 else { return }
        recordsRead += count
        let now = uv_hrtime()
        latency.recordRead(total: recordsRead, at: now)
        if configuration.maxHold != nil {
            if readTimes.count > readTimesHead, now - readTimes[readTimes.count - 1].at < 10_000_000 {
                readTimes[readTimes.count - 1].total = recordsRead
            } else {
                readTimes.append((recordsRead, now))
            }
        }
    }

    /// Retires an input: logs why if it failed, and closes it once it needs nothing more.
    private func end(_ input: Input, error: String?) {
        guard inputs.removeValue(forKey: ObjectIdentifier(input)) != nil else { return }
        if let error {
            inputErrors += 1
            logger.error("input \(input.name) closed: \(error)")
        } else {
            logger.debug("input \(input.name) reached EOF after \(input.nextSeq) records")
        }
        input.pause()
        if input.acceptsReplies && decidedPerSource[input.source, default: 0] < input.nextSeq {
            endedInputs[input.source] = input   // closed once its last reply is written
        } else {
            input.close()
            decidedPerSource[input.source] = nil
        }
        pump()
    }

    /// Pauses or resumes every input as the queues stand now (see `Backpressure`).
    private func applyBackpressure() {
        switch backpressure.update(pendingRecords: batcher.pendingCount, logBacklog: log.backlog) {
        case .pause?: for input in inputs.values { input.pause() }
        case .resume?:
            // In a new random order each time: the kernel reports readable sockets roughly in
            // the order reading was resumed, and reading pauses again after ~4,096 records, so
            // a fixed order starved the same connections every round (a 25 s send at 64 clients).
            for input in inputs.values.shuffled() { input.resume() }
        case nil: break
        }
    }

    // MARK: Engine

    /// Records a batch needs before it is handed in while the engine is busy.
    static let minimumBatchAhead = 1024
    /// Records a batch may gain beyond `maxPendingRecords`: reading pauses there,
    /// but the bytes already read are still decoded (a 256 KiB file read holds
    /// ~330 records of d = 384 float16).
    static let batchHeadroom = 1024

    private func pump() {
        servePendingStatusRequests()
        guard checkpoint == .none else {
            beginCheckpointIfQuiet()
            return
        }
        guard worker.isReady else { return }
        if let early = batcher.takeEarlyRejections() {
            noteHanded(early.entries)
            worker.run(.decided(early), done: didWork)
        } else if worker.isBusy && batcher.pendingCount < Self.minimumBatchAhead {
            // The engine is busy: let the batch grow before it is assigned ahead
            // (per-batch costs would outweigh the overlap); the engine's end pumps again.
            return
        } else if let cluster, !cluster.acceptsBatches(warmup: worker.warmup) {
            return   // waiting for the cluster's centroids with the warm-up full: inputs feel backpressure
        } else if let batch = batcher.takeBatch() {
            noteHanded(batch.entries)
            if let uniqueIDs = batcher.uniqueIDs, uniqueIDs.isOverfilled, !warnedIDFilterOverfilled {
                warnedIDFilterOverfilled = true
                let filter = uniqueIDs.filter
                logger.warning("--unique-ids: the id filter now holds \(filter.insertedCount) ids, more than the \(filter.expectedRecords) it was sized for (--expected-records): new records are dropped as duplicate_id more often than 1 in \(Int((1 / filter.designRate).rounded())) (now about 1 in \(Int((1 / max(filter.expectedRate, 1e-12)).rounded()))) and the rate keeps growing; start anew (--fresh) with a larger --expected-records")
            }
            worker.run(.submit(batch), done: didWork)
            applyBackpressure()
        } else {
            drainIfDone()
        }
    }

    /// Remembers how far each input has been handed to the engine (entries of one
    /// input arrive in `seq` order), for the checkpoint's positions.
    private func noteHanded(_ entries: [RecordBatch.Entry]) {
        for entry in entries { noteHanded(source: entry.origin.source, upTo: entry.origin.seq + 1) }
    }

    @inline(__always)
    private func noteHanded(source: UInt32, upTo seq: UInt64) {
        let index = Int(source)
        if index >= handed.count { handed += [UInt64](repeating: 0, count: index + 1 - handed.count) }
        if seq > handed[index] { handed[index] = seq }
    }

    private func didWork(_ output: WorkerOutput) {
        recordsDecided += UInt64(output.tally.total)
        let decidedSoFar = recordsDecided
        log.append(output.lines) { [self] in latency.recordWritten(total: decidedSoFar, at: uv_hrtime()) }
        redis.didWork(decidedPerSource: output.decidedPerSource, lines: output.lines, deferred: output.deferred)
        tally.add(output.tally)
        do { try keptIds?.append(output.keptIds) } catch { logger.error("kept ids: \(error)") }
        for (source, count) in output.decidedPerSource {
            decidedPerSource[source, default: 0] += count
        }
        for (source, lines) in output.replies {
            if let input = inputs.values.first(where: { $0.source == source }) ?? endedInputs[source] {
                input.reply(lines)
            }
        }
        for (source, input) in endedInputs where decidedPerSource[source, default: 0] >= input.nextSeq {
            endedInputs[source] = nil
            decidedPerSource[source] = nil
            input.close()
        }
        applyBackpressure()
        pump()
    }

    /// `--max-hold`: when the oldest undecided record was read more than `maxHold`
    /// seconds ago and the engine is idle with nothing waiting for it (so the record
    /// is held by the look-ahead or the warm-up, not queued), the engine decides
    /// everything it holds now, as at the end of input, and carries on. Which
    /// records this reaches depends on when input went quiet: a replay timed alike
    /// decides alike.
    private func releaseHeldIfDue() {
        // A cluster shard decides what it holds against the cluster: after an epoch, at the end (Cluster/).
        guard let maxHold = configuration.maxHold, cluster == nil else { return }
        while readTimesHead < readTimes.count && readTimes[readTimesHead].total <= recordsDecided { readTimesHead += 1 }
        if readTimesHead > 1024 && readTimesHead * 2 > readTimes.count {
            readTimes.removeFirst(readTimesHead)
            readTimesHead = 0
        }
        guard readTimesHead < readTimes.count,
              Double(uv_hrtime() - readTimes[readTimesHead].at) / 1e9 >= maxHold,
              !isStopping, !engineFinished, checkpoint == .none, worker.isReady, !worker.isBusy,
              !worker.hasPendingOutput, batcher.pendingCount == 0 else { return }
        logger.debug("max-hold: a record waited \(maxHold) s while input was quiet; deciding the \(recordsRead - recordsDecided) undecided now")
        worker.run(.finish, done: didWork)
    }

    /// Once no input can bring more records: decide what the engine still holds, flush, stop.
    private func drainIfDone() {
        let noMoreInput = isStopping || (listeners.isEmpty && pendingOpens == 0 && inputs.isEmpty)
        guard noMoreInput, checkpoint == .none, worker.isReady, batcher.pendingCount == 0 else { return }
        if !engineFinished {
            // Suspended: the last checkpoint holds what the engine holds, as a SIGKILL just after a
            // checkpoint would leave it; the restart decides those records as if never stopped.
            if isStopping && configuration.suspendOnStop && configuration.checkpointPath != nil {
                engineFinished = true
                engineSuspended = true
                logger.info("suspending: the \(recordsRead - recordsDecided) records held undecided go into the checkpoint; the next start with this state directory decides them")
            } else {
                if let cluster, !cluster.mayFinish(stopping: isStopping) { return }
                engineFinished = true
                worker.run(.finish, done: didWork)
                return
            }
        }
        guard !isShuttingDown, !worker.hasPendingOutput else { return }
        isShuttingDown = true
        requestCheckpoint { [self] in log.whenIdle { [self] in shutDown() } }
    }

    private func shutDown() {
        cluster?.leave()
        for input in endedInputs.values { input.close() }
        endedInputs = [:]
        // Replies a client never read must not keep the loop (and the process) alive.
        for connection in Array(openConnections.values) { connection.abort() }
        openConnections = [:]
        for signal in signals { signal.close() }
        signals = []
        for timer in timers { timer.close() }
        timers = []
        for service in services { service.close() }
        redis.finish()
        services = []
        servePendingStatusRequests()
        logger.info("stopped: \(tally.total) records, \(tally.kept) kept, \(tally.dropped) dropped, \(tally.rejected) rejected")
        if let margins = (worker.engine as? StreamingEngine)?.marginSummary { logger.info("\(margins)") }
    }

    // MARK: Signals

    private func installSignals() throws {
        for signal in [SIGTERM, SIGINT] {
            signals.append(try SignalWatcher(on: loop, signal: signal) { [unowned self] in stop() })
        }
        signals.append(try SignalWatcher(on: loop, signal: SIGHUP) { [unowned self] in reload() })
    }

    /// SIGHUP: reopen the decision log (logrotate) and reload the live options.
    private func reload() {
        notifier?.reloading()
        logger.info("SIGHUP: reopening decision log \(configuration.decisionsPath)")
        log.reopen()
        if let keptIds {
            do {
                try keptIds.publish()
                logger.info("SIGHUP: kept ids written to \(keptIds.path)")
            } catch {
                logger.error("kept ids \(keptIds.path) not written: \(error)")
            }
        }
        if let reloadOptions = configuration.reloadOptions {
            whenWorkerIdle { [self] in
                do {
                    let options = try reloadOptions.read()
                    let replaced = try worker.engine.reload(options)
                    logger.info("reloaded options: \(reloadOptions.changes(replaced, options))")
                } catch {
                    logger.error("reload refused, running configuration kept: \(reloadOptions.reason(error))")
                }
                notifier?.ready(status: statusLine())
            }
        } else {
            notifier?.ready(status: statusLine())
        }
    }

    /// Stops accepting, decides every record already read (or, suspending, checkpoints
    /// the held ones undecided), and exits the loop.
    public func stop() {
        guard !isStopping else {
            cluster?.hurry()   // a second signal: a cluster shard stops waiting for the others
            return
        }
        isStopping = true
        if configuration.suspendOnStop && configuration.checkpointPath != nil {
            logger.info("stopping: no new input; suspending (--suspend-on-stop): held records are checkpointed undecided")
        } else {
            logger.info("stopping: no new input; deciding every record already read")
        }
        notifier?.stopping()
        for listener in listeners { listener.close() }
        listeners = []
        for input in Array(inputs.values) { end(input, error: nil) }
        pump()
    }

    // MARK: Service

    /// Runs `body` on the loop thread at a moment no engine job is running,
    /// so it may read or change the engine.
    private func whenWorkerIdle(_ body: @escaping () -> Void) {
        if worker.isBusy { pendingStatusRequests.append(body) } else { body() }
    }

    /// Runs `body` on the loop thread at a moment no engine job changes the engine,
    /// so it may read it: also while a checkpoint is written (which only reads it),
    /// so `prunerd status` and `/metrics` answer during a long checkpoint.
    private func whenEngineReadable(_ body: @escaping () -> Void) {
        if checkpoint == .writing { body() } else { whenWorkerIdle(body) }
    }

    private func servePendingStatusRequests() {
        guard !worker.isBusy, !pendingStatusRequests.isEmpty else { return }
        let requests = pendingStatusRequests
        pendingStatusRequests = []
        for request in requests { request() }
    }

    private func startServices() throws {
        if let path = configuration.controlPath {
            let control = try Listener(address: .unix(path: path), replies: false, loop: loop,
                onConnection: { [unowned self] _, handle in
                    _ = RequestConnection(handle: handle, terminator: [UInt8(ascii: "\n")]) { [unowned self] _, reply in
                        // The document reads the engine: only between engine jobs.
                        whenEngineReadable { [unowned self] in reply(Array(statusJSON().utf8) + [UInt8(ascii: "\n")]) }
                    }
                },
                onError: { [unowned self] _, error in logger.error("control socket: \(error)") })
            services.append(control)
            logger.info("status on unix:\(path)")
        }
        if let metrics = configuration.metrics {
            let server = try Listener(address: metrics, replies: false, loop: loop,
                onConnection: { [unowned self] _, handle in
                    _ = RequestConnection(handle: handle, terminator: Array("\r\n\r\n".utf8)) { [unowned self] request, reply in
                        whenEngineReadable { [unowned self] in reply(httpResponse(to: request)) }
                    }
                },
                onError: { [unowned self] _, error in logger.error("metrics endpoint: \(error)") })
            services.append(server)
            logger.info("metrics on \(metrics)/metrics")
            warnIfReachable(metrics, can: "read the metrics")
        }
    }

    private func startTimers() {
        // Watchdog pings come from the loop itself, so a wedged loop is caught.
        if notifier != nil, let usec = SystemdNotifier.watchdogInterval() {
            if let timer = try? LoopTimer(on: loop, action: { [unowned self] in notifier?.watchdog() }) {
                let interval = max(1, usec / 2000)
                timer.start(after: 0, every: interval)
                timer.unref()
                timers.append(timer)
            }
        }
        if let timer = try? LoopTimer(on: loop, action: { [unowned self] in tick() }) {
            timer.start(after: 1000, every: 1000)
            timer.unref()
            timers.append(timer)
        }
        if let maxHold = configuration.maxHold, maxHold > 0,
           let timer = try? LoopTimer(on: loop, action: { [unowned self] in releaseHeldIfDue() }) {
            let interval = UInt64(min(1000, max(20, maxHold * 250)))
            timer.start(after: interval, every: interval)
            timer.unref()
            timers.append(timer)
        }
        if configuration.progress != nil, let timer = try? LoopTimer(on: loop, action: { [unowned self] in reportProgress() }) {
            timer.start(after: 200, every: 200)
            timer.unref()
            timers.append(timer)
        }
        if configuration.checkpointEvery > 0, configuration.checkpointPath != nil,
           let timer = try? LoopTimer(on: loop, action: { [unowned self] in
               if !isShuttingDown && checkpoint == .none { requestCheckpoint() }
           }) {
            let interval = max(10, UInt64((configuration.checkpointEvery * 1000).rounded()))
            timer.start(after: interval, every: interval)
            timer.unref()
            timers.append(timer)
        }
    }

    /// The progress callback's figures (the warm-up as of the engine's last job).
    private func reportProgress() {
        configuration.progress?(DaemonProgress(bytesRead: bytesRead, recordsRead: recordsRead, tally: tally, warmup: worker.warmup))
    }

    /// Once a second: rate, STATUS=.
    private func tick() {
        logRefusedConnections()
        let now = uv_hrtime()
        let seconds = Double(now - rateWindow.at) / 1e9
        if seconds > 0 { recentRate = Double(recordsDecided - rateWindow.decided) / seconds }
        rateWindow = (now, recordsDecided)
        history.record(seconds: Double(now - startedAt) / 1e9, tally: tally)
        notifier?.status(statusLine())
    }

    private func statusLine() -> String {
        let ratio = tally.kept + tally.dropped > 0 ? Double(tally.kept) / Double(tally.kept + tally.dropped) : 0
        return "\(Int(recentRate.rounded())) records/s, \(tally.total) decided, kept ratio \(formatFixed(ratio, 4)), "
            + "\(worker.engine.conceptCount) concepts"
    }

    // MARK: Checkpoints

    /// Asks for a checkpoint; `then` runs once it is written (or failed). Without a
    /// state directory, `then` runs at once.
    private func requestCheckpoint(then: (() -> Void)? = nil) {
        guard configuration.checkpointPath != nil else {
            then?()
            return
        }
        if let then { afterNextCheckpoint.append(then) }
        switch checkpoint {
        case .none: checkpoint = .wanted
        case .writing: checkpointAgain = true   // the one being written predates this request
        case .wanted, .waitingForLog: break    // its state is read later: it serves this request too
        }
        pump()
    }

    /// Takes the checkpoint once no engine job runs or waits, every output is
    /// delivered and the log has written it: then the engine's state, the
    /// positions handed to it and the log's length describe the same moment.
    private func beginCheckpointIfQuiet() {
        guard checkpoint == .wanted, worker.isIdle else { return }
        checkpoint = .waitingForLog
        log.whenIdle { [self] in writeCheckpoint() }
    }

    /// Serialises and writes the checkpoint on the thread pool (the engine waits,
    /// the loop goes on reading and pinging the watchdog): fsync the log, read its
    /// length, serialise the engine, write the file atomically.
    private func writeCheckpoint() {
        guard let path = configuration.checkpointPath, worker.isIdle else {
            checkpoint = .wanted
            pump()
            return
        }
        checkpoint = .writing
        let attached = afterNextCheckpoint
        afterNextCheckpoint = []
        var files = fileInputs.map { file in
            ResumePoint.FileInput(name: file.name, device: file.identity.device, inode: file.identity.inode,
                                  size: file.identity.size, fingerprint: file.identity.fingerprint,
                                  records: Int(file.source) < handed.count ? handed[Int(file.source)] : 0)
        }
        // Inputs of the restored resume point not (yet) open again — a file whose open is still
        // pending, a matrix shard not reached — keep their recorded position: without them a
        // checkpoint taken just after a restart sent those inputs back to record 0.
        for saved in configuration.resume?.files ?? [] where !files.contains(where: { $0.name == saved.name }) {
            files.append(saved)
        }
        let sourceTable = sources.snapshot().map { ResumePoint.Source(name: $0.name, replies: $0.replies) }
        let logPath = configuration.decisionsPath
        let logDescriptor = log.duplicateDescriptor()
        let engine = worker.engine
        let decided = recordsDecided
        let job = CheckpointJob()
        // The filter's value shares its storage (tens of MB) with the batcher's until the
        // job lets go of it, which it does before the engine may take the next batch (whose
        // ids join the filter): no copy.
        job.idFilter = batcher.uniqueIDs?.filter
        logger.debug("checkpoint taken: \(decided) records decided, positions of \(files.count) file inputs; writing it off the loop")
        worker.runExclusively({
            job.run(path: path, logPath: logPath, logDescriptor: logDescriptor, sources: sourceTable, files: files,
                    engine: engine)
        }, then: { [self] in
            checkpoint = .none
            switch job.result {
            case .success(let bytes)?:
                lastCheckpointAt = uv_hrtime()
                let seconds = formatFixed(job.seconds, 3)
                logger.info("checkpoint written: \(path) (\(bytes) bytes, \(decided) records decided, \(seconds) s off the loop)")
            case .failure(let error)?:
                logger.error("checkpoint failed: \(error)")
            case nil:
                break
            }
            if checkpointAgain {
                checkpointAgain = false
                checkpoint = .wanted
            }
            for body in attached { body() }
        })
    }

    /// The thread-pool side of a checkpoint; the loop reads `result` once it is done.
    private final class CheckpointJob: @unchecked Sendable {
        var result: Result<Int, UVError>?
        var seconds = 0.0
        /// `--unique-ids`: the filter to write; released once serialised.
        var idFilter: IDFilter?

        func run(path: String, logPath: String, logDescriptor: Int32?, sources: [ResumePoint.Source],
                 files: [ResumePoint.FileInput], engine: DecisionEngine) {
            let filter = idFilter
            idFilter = nil
            let started = uv_hrtime()
            defer { seconds = Double(uv_hrtime() - started) / 1e9 }
            result = Result { () throws(UVError) -> Int in
                var mark: ResumePoint.LogMark?
                if let fd = logDescriptor {
                    defer { FileSystem.closeFile(fd) }
                    // The lines the log mark counts must be on disk before the checkpoint that counts them.
                    let state = try FileSystem.syncAndStat(fd, name: logPath)
                    mark = ResumePoint.LogMark(path: logPath, device: state.device, inode: state.inode, length: state.size)
                }
                let filterBytes = filter?.checkpoint()
                let point = ResumePoint(log: mark, sources: sources, files: files, engine: engine.checkpoint() ?? [],
                                        idFilter: filterBytes)
                let parts = point.encodedParts()
                try FileSystem.writeFileAtomically(parts: parts, toPath: path)
                return parts.reduce(0) { $0 + $1.count }
            }
        }
    }

    /// The `prunerd status` document (must run while the engine is readable; see `whenEngineReadable`).
    private func statusJSON() -> String {
        var json = JSONWriter()
        json.open()
        json.field("uptime_seconds", Double(uv_hrtime() - startedAt) / 1e9)
        json.field("records_read", Int(recordsRead))
        json.field("records", tally.total)
        json.field("kept", tally.kept)
        json.field("dropped", tally.dropped)
        json.field("rejected", tally.rejected)
        json.field("keep_ratio", tally.kept + tally.dropped > 0 ? Double(tally.kept) / Double(tally.kept + tally.dropped) : 0)
        json.field("records_per_second", recentRate)
        json.field("records_per_second_overall", Double(tally.total) / max(1e-9, Double(uv_hrtime() - startedAt) / 1e9))
        json.field("rejected_by_reason", tally.rejectedByReason)
        json.field("dropped_by_reason", tally.droppedByReason)
        json.field("open_inputs", inputs.count)
        json.field("latency_ms_p50", latency.histogram.quantileMilliseconds(0.5))
        json.field("latency_ms_p99", latency.histogram.quantileMilliseconds(0.99))
        json.field("checkpoint_age_seconds", lastCheckpointAt.map { Double(uv_hrtime() - $0) / 1e9 })
        json.field("decision_log", configuration.decisionsPath)
        if let filter = batcher.uniqueIDs?.filter {
            json.field("unique_ids", filter.insertedCount)
            json.field("unique_ids_expected", filter.expectedRecords)
            json.field("unique_ids_false_positive_rate", filter.expectedRate)
        }
        worker.engine.writeStatus(into: &json)
        redis.writeStatus(into: &json)
        cluster?.writeStatus(into: &json)
        history.write(into: &json, now: Double(uv_hrtime() - startedAt) / 1e9, tally: tally)
        json.close()
        return json.text
    }

    private func httpResponse(to request: [UInt8]) -> [UInt8] {
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0] == "GET", parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") else {
            return Array("HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n".utf8)
        }
        var metrics = PrometheusExposition()
        metrics.counter("prunerd_records_total", "Records that got a decision line, by decision.",
                        [(["decision": "keep"], Double(tally.kept)), (["decision": "drop"], Double(tally.dropped)),
                         (["decision": "reject"], Double(tally.rejected))])
        metrics.counter("prunerd_rejected_total", "Rejected records by reason.",
                        tally.rejectedByReason.sorted { $0.key < $1.key }.map { (["reason": $0.key], Double($0.value)) })
        metrics.gauge("prunerd_records_per_second", "Decisions per second over the last second.", recentRate)
        metrics.gauge("prunerd_keep_ratio", "Realised keep ratio over kept and dropped records.",
                      tally.kept + tally.dropped > 0 ? Double(tally.kept) / Double(tally.kept + tally.dropped) : 0)
        metrics.gauge("prunerd_open_inputs", "Inputs currently open.", Double(inputs.count))
        metrics.gauge("prunerd_concepts", "Concepts of the engine.", Double(worker.engine.conceptCount))
        let warmup = worker.engine.warmupProgress
        metrics.gauge("prunerd_warmup_records", "Valid records the warm-up holds (0 once it is over).", Double(warmup?.seen ?? 0))
        metrics.gauge("prunerd_warmup_target", "Records the warm-up waits for before the first decision (0 once it is over).",
                      Double(warmup?.target ?? 0))
        metrics.gauge("prunerd_latency_p99_seconds", "Record-to-decision latency, 99th percentile.",
                      latency.histogram.quantileMilliseconds(0.99) / 1000)
        metrics.gauge("prunerd_checkpoint_age_seconds", "Seconds since the last checkpoint (-1: none yet).",
                      lastCheckpointAt.map { Double(uv_hrtime() - $0) / 1e9 } ?? -1)
        if let filter = batcher.uniqueIDs?.filter {
            metrics.gauge("prunerd_unique_ids", "Ids in the --unique-ids filter.", Double(filter.insertedCount))
            metrics.gauge("prunerd_unique_ids_false_positive_rate",
                          "Share of new records the --unique-ids filter now drops as duplicate_id by mistake (expected).",
                          filter.expectedRate)
        }
        let body = metrics.text
        return Array(("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
    }
}
