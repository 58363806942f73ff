// The daemon: wires its parts on one libuv loop — inputs with backpressure
// (`InputSet`) → batcher and engine worker (`EngineDriver`) → decision log,
// replies, the Redis decision stream and kept ids — and runs the lifecycle:
// signals, reload, the orderly drain and the last checkpoint (`Checkpointer`).
// Status and metrics are `StatusService`'s; the run's counts `RunFigures`'.
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

/// The prunerd daemon.
public final class Daemon {
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let loop: EventLoop
    private let sources = SourceTable()
    private let driver: EngineDriver
    private let log: DecisionLog
    private let figures = RunFigures()
    /// Redis stream inputs and the decision stream.
    private let redis = RedisPlumbing()
    private lazy var inputs = InputSet(configuration: configuration, sources: sources, loop: loop, logger: logger, hooks: .init(
        accept: { [batcher = driver.batcher] event, origin in batcher.accept(event, origin: origin) },
        didRead: { [unowned self] _ in noteRead() },
        skipped: { [unowned self] source, seq in driver.noteHanded(source: source, upTo: seq) },
        changed: { [unowned self] in pump() },
        queues: { [unowned self] in (driver.pendingCount, log.backlog) }))
    private lazy var checkpointer = Checkpointer(configuration: configuration, logger: logger, sources: sources,
                                                 driver: driver, inputs: inputs, log: log,
                                                 decided: { [unowned self] in figures.recordsDecided },
                                                 wake: { [unowned self] in pump() })
    private lazy var status = StatusService(configuration: configuration, logger: logger, loop: loop, figures: figures,
                                            inputs: inputs, driver: driver, checkpointer: checkpointer, redis: redis)
    private var lifecycle = Lifecycle.running
    /// `--max-hold`: when the undecided records were read.
    private var holdClock = HoldClock()
    private var signals: [SignalWatcher] = []
    private var timers: [LoopTimer] = []
    private var notifier: SystemdNotifier?
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
        self.driver = EngineDriver(engine: engine, sources: sources, loop: loop, logger: logger,
                                   maxPendingRecords: configuration.maxPendingRecords, uniqueIDs: consume uniqueIDs)
        for source in configuration.resume?.sources ?? [] {
            let index = sources.register(name: source.name, replies: source.replies)
            if let seqs = configuration.startPlan.alreadyLogged[source.name] { driver.setAlreadyLogged(seqs, source: index) }
        }
        self.log = try DecisionLog(path: configuration.decisionsPath, loop: loop)
        driver.deliver = { [unowned self] output in deliver(output) }
        driver.onProgress = { [unowned self] in pump() }
    }

    /// Runs until every input ended (pipe mode) or a stop signal drained the daemon.
    public func run() throws -> DaemonSummary {
        figures.start(at: uv_hrtime())
        log.onError = { [logger] error in logger.error("decision log: \(error)") }
        if let path = configuration.keptIdsPath {
            keptIds = try KeptIdsWriter(path: path)
            // Resumed: the log holds the run's earlier decisions; the kept set covers them too.
            if configuration.resume != nil, configuration.decisionsPath != "-", let kept = try keptIds?.seed(fromLog: configuration.decisionsPath) {
                logger.info("kept ids: \(kept) from the decision log's \(configuration.decisionsPath) decisions before the restart")
            }
            driver.collectKeptIds()
        }
        log.onBacklogShrank = { [unowned self] in inputs.applyBackpressure() }
        try installSignals()
        logKernel()
        try inputs.listen()
        // A stream entry is acknowledged once its lines are fsynced (a restart keeps them: only lines of
        // inputs read again are cut back to the checkpoint).
        try redis.open(configuration, sources: sources, loop: loop, logger: logger, held: driver.engine.heldOrigins,
                       whenDurable: { [unowned self] in log.whenDurable($0) },
                       write: { [unowned self] lines in log.append(lines) }, start: { inputs.start($0) })
        try status.start()
        if let shard = configuration.cluster, let engine = driver.engine as? StreamingEngine {
            let cluster = try ClusterShard(configuration: shard, engine: engine, loop: loop, logger: logger, hooks: .init(
                whenEngineIdle: { [unowned self] in driver.whenIdle($0) }, wake: { [unowned self] in pump() },
                nudge: { [unowned self] in if checkpointer.isIdle { driver.nudge() } }))
            self.cluster = cluster
            status.cluster = cluster
            driver.mayTakeBatch = { [unowned cluster] warmup in cluster.acceptsBatches(warmup: warmup) }
        }
        for notice in configuration.startPlan.notices { logger.info("\(notice)") }
        for warning in configuration.startPlan.warnings { logger.warning("\(warning)") }
        if configuration.checkpointPath != nil && configuration.resume == nil { checkpointer.request() }
        inputs.openCommandLineInputs()
        notifier = SystemdNotifier()
        notifier?.ready(status: "accepting input")
        startTimers()
        drainIfDone()
        loop.run()
        log.close()
        var summary = DaemonSummary(tally: figures.tally, seconds: figures.seconds(at: uv_hrtime()),
                                    inputErrors: inputs.errorCount, decisionsPath: configuration.decisionsPath,
                                    latency: figures.latency.histogram)
        summary.resumedRecords = inputs.resumedRecords
        if lifecycle.isSuspended { summary.suspendedRecords = inputs.recordsRead - figures.recordsDecided }
        return summary
    }

    private func logKernel() {
        let tile = configuration.kernel.registerTile.rawValue
        let supported = NearestCentroid.ScreenKind.supported.map(\.rawValue).joined(separator: ", ")
        let kernel = configuration.kernel.screen.map {
            "\($0.summary), candidates in float32 on the \(tile) register tile "
                + "(this CPU supports: \(supported); PRUNERD_SCREEN=amx|vnni|none picks)"
        } ?? "float32, \(tile) register tile (no screen: this CPU supports "
                + "\(supported.isEmpty ? "none" : supported), PRUNERD_SCREEN=amx|vnni|none picks; "
                + "PRUNERD_KERNEL=12x32|6x16 picks the tile)"
        logger.info("assignment: \(kernel)")
    }

    // MARK: The flow of records

    /// Records were read: latency and `--max-hold` start counting them.
    private func noteRead() {
        let now = uv_hrtime()
        figures.latency.recordRead(total: inputs.recordsRead, at: now)
        if configuration.maxHold != nil { holdClock.noteRead(total: inputs.recordsRead, at: now) }
    }

    /// Called whenever something changed that may let work move on: serves what waited
    /// for the engine's idle moment, takes a wanted checkpoint, hands in the next job,
    /// or finishes once nothing more can come.
    private func pump() {
        driver.serveIdleRequests()
        guard checkpointer.isIdle else {
            checkpointer.beginIfQuiet()
            return
        }
        switch driver.handInNext() {
        case .batch: inputs.applyBackpressure()
        case .rejections, .waiting: break
        case .empty: drainIfDone()
        }
    }

    /// One job's output: lines to the log (and the Redis decision stream), replies, counts.
    private func deliver(_ output: WorkerOutput) {
        let decidedSoFar = figures.noteDecided(output.tally)
        log.append(output.lines) { [self] in figures.latency.recordWritten(total: decidedSoFar, at: uv_hrtime()) }
        redis.didWork(decidedPerSource: output.decidedPerSource, lines: output.lines, deferred: output.deferred)
        do { try keptIds?.append(output.keptIds) } catch { logger.error("kept ids: \(error)") }
        inputs.deliver(decidedPerSource: output.decidedPerSource, replies: output.replies)
        inputs.applyBackpressure()
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
        guard let oldest = holdClock.oldestUndecidedRead(decided: figures.recordsDecided),
              Double(uv_hrtime() - oldest) / 1e9 >= maxHold,
              lifecycle == .running, checkpointer.isIdle, driver.isQuiet else { return }
        logger.debug("max-hold: a record waited \(maxHold) s while input was quiet; deciding the \(inputs.recordsRead - figures.recordsDecided) undecided now")
        driver.finish()
    }

    // MARK: The end

    /// Once no input can bring more records: decide what the engine still holds, flush, stop.
    private func drainIfDone() {
        let noMoreInput = lifecycle.isStopping || inputs.isExhausted
        guard noMoreInput, checkpointer.isIdle, driver.isReady, driver.pendingCount == 0 else { return }
        if !lifecycle.engineFinished {
            // Suspended: the last checkpoint holds what the engine holds, as a SIGKILL just after a
            // checkpoint would leave it; the restart decides those records as if never stopped.
            if lifecycle.isStopping && configuration.suspendOnStop && configuration.checkpointPath != nil {
                lifecycle = .finishing(suspended: true, stopped: true)
                logger.info("suspending: the \(inputs.recordsRead - figures.recordsDecided) records held undecided go into the checkpoint; the next start with this state directory decides them")
            } else {
                if let cluster, !cluster.mayFinish(stopping: lifecycle.isStopping) { return }
                lifecycle = .finishing(suspended: false, stopped: lifecycle.isStopping)
                driver.finish()
                return
            }
        }
        guard !lifecycle.isShuttingDown, !driver.hasPendingOutput else { return }
        lifecycle = .shuttingDown(suspended: lifecycle.isSuspended)
        checkpointer.request { [self] in log.whenIdle { [self] in shutDown() } }
    }

    private func shutDown() {
        cluster?.leave()
        inputs.shutDown()
        for signal in signals { signal.close() }
        signals = []
        for timer in timers { timer.close() }
        timers = []
        status.close()
        redis.finish()
        driver.serveIdleRequests()
        let tally = figures.tally
        logger.info("stopped: \(tally.total) records, \(tally.kept) kept, \(tally.dropped) dropped, \(tally.rejected) rejected")
        if let margins = (driver.engine as? StreamingEngine)?.marginSummary { logger.info("\(margins)") }
    }

    /// Stops accepting, decides every record already read (or, suspending, checkpoints
    /// the held ones undecided), and exits the loop.
    public func stop() {
        switch lifecycle {
        case .running: lifecycle = .stopping
        case .finishing(suspended: let suspended, stopped: false): lifecycle = .finishing(suspended: suspended, stopped: true)
        case .stopping, .finishing, .shuttingDown:
            cluster?.hurry()   // a second signal: a cluster shard stops waiting for the others
            return
        }
        if configuration.suspendOnStop && configuration.checkpointPath != nil {
            logger.info("stopping: no new input; suspending (--suspend-on-stop): held records are checkpointed undecided")
        } else {
            logger.info("stopping: no new input; deciding every record already read")
        }
        notifier?.stopping()
        inputs.close()
        pump()
    }

    // MARK: Signals and timers

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
            driver.whenIdle { [self] in
                do {
                    let options = try reloadOptions.read()
                    let replaced = try driver.engine.reload(options)
                    logger.info("reloaded options: \(reloadOptions.changes(replaced, options))")
                } catch {
                    logger.error("reload refused, running configuration kept: \(reloadOptions.reason(error))")
                }
                notifier?.ready(status: status.statusLine())
            }
        } else {
            notifier?.ready(status: status.statusLine())
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
               if !lifecycle.isShuttingDown && checkpointer.isIdle { checkpointer.request() }
           }) {
            let interval = max(10, UInt64((configuration.checkpointEvery * 1000).rounded()))
            timer.start(after: interval, every: interval)
            timer.unref()
            timers.append(timer)
        }
    }

    /// The progress callback's figures (the warm-up as of the engine's last job).
    private func reportProgress() {
        configuration.progress?(DaemonProgress(bytesRead: inputs.bytesRead, recordsRead: inputs.recordsRead,
                                               tally: figures.tally, warmup: driver.warmup))
    }

    /// Once a second: refusals, rate, STATUS=.
    private func tick() {
        inputs.tick()
        figures.tick(now: uv_hrtime())
        notifier?.status(status.statusLine())
    }
}
