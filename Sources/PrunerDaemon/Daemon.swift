// The daemon: wires inputs and listeners → decoders → batcher → engine worker
// → decision log on one libuv loop, with backpressure and an orderly drain.
//
// Invariant: every record that enters gets exactly one decision line, in input
// order per input. Records already read when the daemon stops are still decided.
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
    /// Listening sockets; each connection is an independent input.
    public var listeners: [ListenerConfiguration] = []
    /// The decision log: a path, or `-` for stdout.
    public var decisionsPath: String = "-"
    /// The largest record accepted (PRN1 `length`, JSON line length).
    public var maxRecordSize: Int = 1 << 20
    /// Records waiting for the engine before reading pauses (backpressure).
    public var maxPendingRecords: Int = 8192
    /// Decision-log bytes waiting for the disk before reading pauses.
    public var maxLogBacklog: Int = 64 << 20

    public init() {}
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
    private var isPaused = false
    private var isStopping = false
    private var engineFinished = false
    private var isShuttingDown = false
    private var tally = DecisionTally()
    private var inputErrors = 0

    public init(configuration: DaemonConfiguration, engine: DecisionEngine, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.loop = try EventLoop()
        self.worker = EngineWorker(engine: engine, sources: sources, loop: loop)
        self.batcher = RecordBatcher(dimension: engine.dimension)
    }

    /// Runs until every input ended (pipe mode) or a stop signal drained the daemon.
    public func run() throws -> DaemonSummary {
        let started = uv_hrtime()
        log = try DecisionLog(path: configuration.decisionsPath, loop: loop)
        log.onError = { [logger] error in logger.error("decision log: \(error)") }
        try installSignals()
        for listener in configuration.listeners { try listen(listener) }
        for path in configuration.inputs { open(path) }
        drainIfDone()
        loop.run()
        log.close()
        return DaemonSummary(tally: tally, seconds: Double(uv_hrtime() - started) / 1e9,
                             inputErrors: inputErrors, decisionsPath: configuration.decisionsPath)
    }

    // MARK: Inputs

    private func open(_ path: String) {
        pendingOpens += 1
        let name = InputOpener.inputName(forPath: path)
        let source = sources.register(name: name)
        InputOpener.open(path: path, source: source, loop: loop, maxRecordSize: configuration.maxRecordSize) { [self] result in
            pendingOpens -= 1
            switch result {
            case .success(let input):
                if isStopping { input.close() } else { start(input) }
            case .failure(let error):
                inputErrors += 1
                logger.error("input \(name) could not be opened: \(error)")
            }
            drainIfDone()
        }
    }

    private func listen(_ listener: ListenerConfiguration) throws {
        let socket = try Listener(address: listener.address, replies: listener.replies, loop: loop,
            onConnection: { [unowned self] listener, handle in accept(handle, from: listener) },
            onError: { [unowned self] listener, error in logger.error("listener \(listener.name): \(error)") })
        listeners.append(socket)
        logger.info("listening on \(listener.address)\(listener.replies ? " (reply mode)" : "")")
    }

    private func accept(_ handle: StreamHandle, from listener: Listener) {
        guard !isStopping else {
            handle.close()
            return
        }
        connectionCount += 1
        let name = "\(listener.name)#\(connectionCount)"
        let source = sources.register(name: name, replies: listener.replies)
        let input = StreamInput(name: name, source: source, handle: handle,
                                maxRecordSize: configuration.maxRecordSize, replies: listener.replies)
        start(input)
    }

    private func start(_ input: Input) {
        input.delegate = self
        inputs[ObjectIdentifier(input)] = input
        if isPaused { input.pause() }
        input.start()
    }

    func input(_ input: Input, didRead bytes: UnsafeRawBufferPointer) {
        do throws(StreamError) {
            try input.decode(bytes) { event, origin in batcher.accept(event, origin: origin) }
        } catch {
            end(input, error: "\(error)")
        }
        if batcher.pendingCount >= configuration.maxPendingRecords || log.backlog >= configuration.maxLogBacklog {
            pauseInputs()
        }
        pump()
    }

    func inputDidEnd(_ input: Input, error: String?) {
        if let error {
            end(input, error: error)
            return
        }
        do throws(StreamError) {
            try input.finishDecoding { event, origin in batcher.accept(event, origin: origin) }
            end(input, error: nil)
        } catch {
            end(input, error: "\(error)")
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

    private func pauseInputs() {
        guard !isPaused else { return }
        isPaused = true
        for input in inputs.values { input.pause() }
    }

    private func resumeInputsIfDrained() {
        guard isPaused, batcher.pendingCount < configuration.maxPendingRecords / 2,
              log.backlog < configuration.maxLogBacklog / 2 else { return }
        isPaused = false
        for input in inputs.values { input.resume() }
    }

    // MARK: Engine

    private func pump() {
        guard !worker.isBusy else { return }
        if let early = batcher.takeEarlyRejections() {
            worker.run(.decided(early), done: didWork)
        } else if let batch = batcher.takeBatch() {
            worker.run(.submit(batch), done: didWork)
        } else {
            drainIfDone()
        }
    }

    private func didWork(_ output: WorkerOutput) {
        log.append(output.lines)
        tally.add(output.tally)
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
        resumeInputsIfDrained()
        pump()
    }

    /// Once no input can bring more records: decide what the engine still holds, flush, stop.
    private func drainIfDone() {
        let noMoreInput = isStopping || (listeners.isEmpty && pendingOpens == 0 && inputs.isEmpty)
        guard noMoreInput, !worker.isBusy, batcher.pendingCount == 0 else { return }
        if !engineFinished {
            engineFinished = true
            worker.run(.finish, done: didWork)
            return
        }
        guard !isShuttingDown else { return }
        isShuttingDown = true
        log.whenIdle { [self] in shutDown() }
    }

    private func shutDown() {
        for input in endedInputs.values { input.close() }
        endedInputs = [:]
        for signal in signals { signal.close() }
        signals = []
        logger.info("stopped: \(tally.total) records, \(tally.kept) kept, \(tally.dropped) dropped, \(tally.rejected) rejected")
    }

    // MARK: Signals

    private func installSignals() throws {
        for signal in [SIGTERM, SIGINT] {
            signals.append(try SignalWatcher(on: loop, signal: signal) { [unowned self] in stop() })
        }
        signals.append(try SignalWatcher(on: loop, signal: SIGHUP) { [unowned self] in
            logger.info("SIGHUP: reopening decision log \(configuration.decisionsPath)")
            log.reopen()
        })
    }

    /// Stops accepting, decides every record already read, and exits the loop.
    public func stop() {
        guard !isStopping else { return }
        isStopping = true
        logger.info("stopping: no new input; deciding every record already read")
        for listener in listeners { listener.close() }
        listeners = []
        for input in Array(inputs.values) { end(input, error: nil) }
        pump()
    }
}
