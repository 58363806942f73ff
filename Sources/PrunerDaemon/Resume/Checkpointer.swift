// The daemon's checkpoints: when one may be taken (the engine idle, every output
// delivered, the log written) and how it is written off the loop thread (fsync
// the log, serialise the engine and the id filter, write the file atomically on
// the thread pool while the loop goes on reading and pinging the watchdog).
import CLibUV
import Logging
import PrunerCore
import PrunerIO

/// Takes and writes checkpoints, one at a time.
final class Checkpointer {
    /// A checkpoint is taken when the engine is idle and the log written, so that
    /// engine state, input positions and log length agree.
    private enum State {
        case none
        /// Asked for: no new engine job starts until it is taken.
        case wanted
        /// Waiting for the log's writes in flight.
        case waitingForLog
        /// Serialised and written on the thread pool.
        case writing
    }

    /// Where checkpoints go, or nil: then none is taken and requests complete at once.
    let path: String?
    private let configuration: DaemonConfiguration
    private let logger: Logger
    private let sources: SourceTable
    private let driver: EngineDriver
    private let inputs: InputSet
    private let log: DecisionLog
    /// Records decided so far (for the log line).
    private let decided: () -> UInt64
    /// Called once a checkpoint is written or failed: engine jobs may start again.
    private let wake: () -> Void

    private var state = State.none
    /// Asked for while one was being written: take another when it is done.
    private var again = false
    /// Run after the next checkpoint that starts from now on.
    private var afterNext: [() -> Void] = []
    /// When the last checkpoint was written (loop time, ns), or nil before the first.
    private(set) var lastWrittenAt: UInt64?

    init(configuration: DaemonConfiguration, logger: Logger, sources: SourceTable, driver: EngineDriver,
         inputs: InputSet, log: DecisionLog, decided: @escaping () -> UInt64, wake: @escaping () -> Void) {
        self.path = configuration.checkpointPath
        self.configuration = configuration
        self.logger = logger
        self.sources = sources
        self.driver = driver
        self.inputs = inputs
        self.log = log
        self.decided = decided
        self.wake = wake
    }

    /// No checkpoint is asked for or in progress: engine jobs may start.
    var isIdle: Bool { state == .none }
    /// A checkpoint is being serialised and written: the engine is only read.
    var isWriting: Bool { state == .writing }

    /// Asks for a checkpoint; `then` runs once it is written (or failed). Without a
    /// state directory, `then` runs at once.
    func request(then: (() -> Void)? = nil) {
        guard path != nil else {
            then?()
            return
        }
        if let then { afterNext.append(then) }
        switch state {
        case .none: state = .wanted
        case .writing: again = true   // the one being written predates this request
        case .wanted, .waitingForLog: break    // its state is read later: it serves this request too
        }
        wake()
    }

    /// Takes the checkpoint once no engine job runs or waits, every output is
    /// delivered and the log has written it: then the engine's state, the
    /// positions handed to it and the log's length describe the same moment.
    func beginIfQuiet() {
        guard state == .wanted, driver.isIdle else { return }
        state = .waitingForLog
        log.whenIdle { [self] in write() }
    }

    /// Serialises and writes the checkpoint on the thread pool (the engine waits,
    /// the loop goes on reading and pinging the watchdog).
    private func write() {
        guard let path, driver.isIdle else {
            state = .wanted
            wake()
            return
        }
        state = .writing
        let attached = afterNext
        afterNext = []
        var files = inputs.fileInputs.map { file in
            ResumePoint.FileInput(name: file.name, device: file.identity.device, inode: file.identity.inode,
                                  size: file.identity.size, fingerprint: file.identity.fingerprint,
                                  records: driver.handedPosition(of: file.source))
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
        let engine = driver.engine
        let decided = decided()
        let job = Job()
        // The filter's value shares its storage (tens of MB) with the batcher's until the
        // job lets go of it, which it does before the engine may take the next batch (whose
        // ids join the filter): no copy.
        job.idFilter = driver.idFilter
        logger.debug("checkpoint taken: \(decided) records decided, positions of \(files.count) file inputs; writing it off the loop")
        driver.runExclusively({
            job.run(path: path, logPath: logPath, logDescriptor: logDescriptor, sources: sourceTable, files: files,
                    engine: engine)
        }, then: { [self] in
            state = .none
            switch job.result {
            case .success(let bytes)?:
                lastWrittenAt = uv_hrtime()
                let seconds = formatFixed(job.seconds, 3)
                logger.info("checkpoint written: \(path) (\(bytes) bytes, \(decided) records decided, \(seconds) s off the loop)")
            case .failure(let error)?:
                logger.error("checkpoint failed: \(error)")
            case nil:
                break
            }
            if again {
                again = false
                state = .wanted
            }
            for body in attached { body() }
        })
    }

    /// The thread-pool side of a checkpoint; the loop reads `result` once it is done.
    private final class Job: @unchecked Sendable {
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
}
