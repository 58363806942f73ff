// Every input of a daemon: files and stdin given on the command line, the
// matrix stream, listening sockets and their connections, and Redis stream
// inputs once opened. It owns their lifetimes, the connection limit, the
// positions a restart skips, backpressure over all of them, and the way back
// for reply-mode lines. Lives on the loop thread.
import CLibUV
import Logging
import PrunerCore
import PrunerIO
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's inputs, with backpressure.
final class InputSet: InputDelegate {
    /// What the inputs need from the rest of the daemon, given once at creation.
    struct Hooks {
        /// Takes one decoded record (the batcher).
        var accept: (RecordEvent, RecordOrigin) -> Void
        /// `count` records were just read (counted in `recordsRead` already).
        var didRead: (_ count: UInt64) -> Void
        /// A resumed input skips the records of `source` before `seq`: they reached the engine before the checkpoint.
        var skipped: (_ source: UInt32, _ seq: UInt64) -> Void
        /// Something changed that may let the daemon hand work to the engine or finish.
        var changed: () -> Void
        /// The two queues that can grow: records waiting for the engine, log bytes waiting for the disk.
        var queues: () -> (pendingRecords: Int, logBacklog: Int)
    }

    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let loop: EventLoop
    private let sources: SourceTable
    private let hooks: Hooks

    private var inputs: [ObjectIdentifier: Input] = [:]
    /// Reply-mode inputs that ended but still wait for replies, by source.
    private var endedInputs: [UInt32: Input] = [:]
    private var decidedPerSource: [UInt32: Int] = [:]
    private var listeners: [Listener] = []
    private var pendingOpens = 0
    private var connectionCount: Int
    /// Connections whose handle is still open (reading, or writing their last replies).
    private var openConnections: [ObjectIdentifier: StreamInput] = [:]
    /// Connections refused since the last log line about it (logged at most once a second).
    private var refusedSinceLog = 0
    private var refusedTotal = 0
    private var lastRefusalLogAt: UInt64 = 0
    /// Reading paused for all inputs, and its figures (`prunerd status`, /metrics).
    private(set) var backpressure: Backpressure
    /// A stop closed the listeners: inputs whose open completes now are closed at once.
    private var isClosed = false

    /// Input bytes read (raw file bytes; a matrix's `.npy` bytes after inflating).
    private(set) var bytesRead: UInt64 = 0
    /// Records read and handed on, over all inputs.
    private(set) var recordsRead: UInt64 = 0
    /// Inputs that failed to open or were closed by an error.
    private(set) var errorCount = 0
    /// Records of resumed file inputs skipped because they reached the engine before the checkpoint.
    private(set) var resumedRecords: UInt64 = 0
    /// File inputs of this run, by source, for the checkpoint's positions.
    private(set) var fileInputs: [(source: UInt32, name: String, identity: FileIdentity)] = []

    init(configuration: DaemonConfiguration, sources: SourceTable, loop: EventLoop, logger: Logger, hooks: Hooks) {
        self.configuration = configuration
        self.sources = sources
        self.loop = loop
        self.logger = logger
        self.hooks = hooks
        self.backpressure = Backpressure(maxPendingRecords: configuration.maxPendingRecords,
                                         maxLogBacklog: configuration.maxLogBacklog)
        connectionCount = configuration.startPlan.connectionsBefore
        for source in configuration.resume?.sources ?? [] {
            // Connections are numbered on from the restored ones, so that (src, seq) names one record across restarts.
            if let hash = source.name.lastIndex(of: "#"), let number = Int(source.name[source.name.index(after: hash)...]) {
                connectionCount = max(connectionCount, number)
            }
        }
    }

    /// Inputs open now.
    var openCount: Int { inputs.count }

    /// The two queues that can grow, as they stand now.
    var queues: (pendingRecords: Int, logBacklog: Int) { hooks.queues() }

    /// Inputs open now, in a stable order (by source) for the status document.
    var openInputs: [Input] { inputs.values.sorted { $0.source < $1.source } }

    /// No input is open or opening and none can come: the run's input is over.
    var isExhausted: Bool { listeners.isEmpty && pendingOpens == 0 && inputs.isEmpty }

    // MARK: Opening

    /// Starts listening on the command line's sockets and the ones systemd passed.
    func listen() throws {
        if !configuration.listeners.isEmpty || !configuration.activatedSockets.isEmpty {
            raiseDescriptorLimit()
            // libuv writes replies with write(2): a reply to a client that already closed its
            // connection must fail that write (EPIPE), not kill the daemon with SIGPIPE. (A filter
            // with no listeners keeps SIGPIPE, so `prunerd serve x --decisions - | head` ends.)
            signal(SIGPIPE, SIG_IGN)
        }
        for listener in configuration.listeners { try listen(listener) }
        for socket in configuration.activatedSockets { try adopt(socket) }
    }

    /// Opens the command line's files and matrix stream.
    func openCommandLineInputs() {
        for path in configuration.inputs { open(path) }
        if let stream = configuration.matrixStream { open(stream) }
    }

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
                hooks.skipped(source, input.resumesAt)
                if let identity = input.identity { fileInputs.append((source, name, identity)) }
                if isClosed { input.close() } else { start(input) }
            case .failure(let error):
                errorCount += 1
                logger.error("input \(name) not opened: \(error)")
            }
            hooks.changed()
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
        hooks.skipped(source, skip)
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
        listener.address.warnIfReachable(can: "send records", logger: logger)
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
        guard !isClosed else {
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

    /// Once a second: logs refusals not logged yet.
    func tick() { logRefusedConnections() }

    private func logRefusedConnections() {
        guard refusedSinceLog > 0 else { return }
        logger.warning("\(refusedSinceLog) connection(s) refused (\(refusedTotal) since start): \(openConnections.count) connections open, the limit (--max-connections \(configuration.maxConnections))")
        refusedSinceLog = 0
        lastRefusalLogAt = uv_hrtime()
    }

    /// Starts reading `input` (also the Redis stream inputs, opened by `RedisPlumbing`).
    func start(_ input: Input) {
        input.delegate = self
        inputs[ObjectIdentifier(input)] = input
        // Opened while the others are paused: it starts paused too (its pause counted from
        // now), and is resumed with them.
        if let pause = backpressure.state.current { input.pause(for: pause.notice, at: uv_hrtime()) }
        input.start()
    }

    // MARK: Reading

    func input(_ input: Input, didRead bytes: UnsafeRawBufferPointer) {
        bytesRead += UInt64(bytes.count)
        let before = input.deliveredCount
        do throws(StreamError) {
            try input.decode(bytes, hooks.accept)
        } catch {
            end(input, error: "\(error)")
        }
        noteRead(input.deliveredCount - before)
        applyBackpressure()
        hooks.changed()
    }

    func inputDidEnd(_ input: Input, error: String?) {
        if let error {
            end(input, error: error)
            return
        }
        let before = input.deliveredCount
        do throws(StreamError) {
            try input.finishDecoding(hooks.accept)
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
        hooks.didRead(count)
    }

    /// Retires an input: logs why if it failed, and closes it once it needs nothing more.
    private func end(_ input: Input, error: String?) {
        guard inputs.removeValue(forKey: ObjectIdentifier(input)) != nil else { return }
        if let error {
            errorCount += 1
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
        hooks.changed()
    }

    /// Pauses or resumes every input as the queues stand now (see `Backpressure`).
    func applyBackpressure() {
        let queues = hooks.queues()
        let now = uv_hrtime()
        switch backpressure.update(pendingRecords: queues.pendingRecords, logBacklog: queues.logBacklog, now: now) {
        case .pause(let notice)?: for input in inputs.values { input.pause(for: notice, at: now) }
        case .resume?:
            // In a new random order each time: the kernel reports readable sockets roughly in
            // the order reading was resumed, and reading pauses again after ~4,096 records, so
            // a fixed order starved the same connections every round (a 25 s send at 64 clients).
            // Each input's pause ends when it is read again (`Input.readingResumed`).
            for input in inputs.values.shuffled() { input.resumeFromBackpressure(at: now) }
        case nil: break
        }
    }

    // MARK: Replies

    /// Counts one output's decisions per source, sends reply-mode lines back on their
    /// connections, and closes ended reply inputs that now have all their answers.
    func deliver(decidedPerSource decided: [UInt32: Int], replies: [UInt32: [UInt8]]) {
        for (source, count) in decided {
            decidedPerSource[source, default: 0] += count
        }
        for (source, lines) in replies {
            if let input = inputs.values.first(where: { $0.source == source }) ?? endedInputs[source] {
                input.reply(lines)
            }
        }
        for (source, input) in endedInputs where decidedPerSource[source, default: 0] >= input.nextSeq {
            endedInputs[source] = nil
            decidedPerSource[source] = nil
            input.close()
        }
    }

    // MARK: Closing

    /// A stop: no new connection or input; every open one ends as if at EOF (its records read are still decided).
    func close() {
        isClosed = true
        for listener in listeners { listener.close() }
        listeners = []
        for input in Array(inputs.values) { end(input, error: nil) }
    }

    /// At shutdown: closes what waits for replies, and aborts connections whose
    /// replies were never read (they must not keep the loop, and the process, alive).
    func shutDown() {
        for input in endedInputs.values { input.close() }
        endedInputs = [:]
        for connection in Array(openConnections.values) { connection.abort() }
        openConnections = [:]
    }
}

extension ListenAddress {
    /// TCP on anything but loopback lets every host that can route to it send
    /// records (or read metrics): allowed when asked for, never silently.
    func warnIfReachable(can action: String, logger: Logger) {
        guard !isLocalOnly else { return }
        logger.warning("\(self) is not a loopback address: any host that can reach it can \(action); prunerd has no authentication (bind 127.0.0.1 or a unix socket unless this is meant)")
    }
}
