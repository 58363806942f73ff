// Runs the engine off the loop thread, one job at a time, and formats the
// decision lines there too, so the loop thread only reads, decodes and writes.
// One job in flight means the engine is never touched by two threads at once,
// and decisions come back in submission order.
import CLibUV
import PrunerCore
import PrunerIO

/// Counts of verdicts, by reject reason too.
public struct DecisionTally: Sendable, Equatable {
    public var kept = 0
    public var dropped = 0
    public var rejected = 0
    public var rejectedByReason: [String: Int] = [:]
    public var droppedByReason: [String: Int] = [:]

    public init() {}

    public var total: Int { kept + dropped + rejected }

    mutating func count(_ decision: Decision) {
        switch decision.verdict {
        case .keep: kept += 1
        case .drop:
            dropped += 1
            if decision.reason != .overQuota && decision.reason != .notSampled {
                droppedByReason[decision.reason.logValue, default: 0] += 1
            }
        case .reject:
            rejected += 1
            rejectedByReason[decision.reason.logValue, default: 0] += 1
        }
    }

    mutating func add(_ other: DecisionTally) {
        kept += other.kept
        dropped += other.dropped
        rejected += other.rejected
        rejectedByReason.merge(other.rejectedByReason, uniquingKeysWith: +)
        droppedByReason.merge(other.droppedByReason, uniquingKeysWith: +)
    }
}

/// What one engine job produced, ready for the loop thread to write.
struct WorkerOutput: @unchecked Sendable {
    /// Formatted decision lines, in order.
    var lines: [UInt8] = []
    /// Lines to send back on reply-mode connections, by source.
    var replies: [UInt32: [UInt8]] = [:]
    /// Lines of sources that write them only once committed elsewhere (`SourceTable.Source.defers`), by source.
    var deferred: [UInt32: [UInt8]] = [:]
    /// Decisions per source (to know when a reply connection has all its answers).
    var decidedPerSource: [UInt32: Int] = [:]
    /// Ids of the kept records, each followed by a newline (only with `collectsKeptIds`).
    var keptIds: [UInt8] = []
    var tally = DecisionTally()
}

/// Runs engine jobs on libuv's thread pool, one at a time, and formats their
/// decisions in separate jobs that may overlap the next engine job. Outputs are
/// delivered in submission order whatever order the formatting jobs finish in.
///
/// When the engine's assignment kernel cannot change (`aheadKernel`), a batch is
/// first assigned to its nearest centroids in a job of its own, which overlaps
/// the engine job of the batch before: the engine then only does its sequential
/// per-record work, and both cores stay busy.
final class EngineWorker {
    enum Job {
        case submit(RecordBatch)
        case finish
        case decided(DecidedRecords)
    }

    let engine: DecisionEngine
    private let sources: SourceTable
    private let loop: EventLoop
    /// An engine job is running: the engine must not be touched.
    private(set) var isBusy = false
    /// A batch is being assigned ahead of its engine job.
    private var isAssigning = false
    /// The job to run once the engine is free (and its batch assigned).
    private var next: Job?
    /// The engine's kernel for assigning ahead, read whenever the engine is idle.
    private var aheadKernel: NearestCentroid?
    private var nextSequence = 0
    private var nextToDeliver = 0
    private var finished: [Int: WorkerOutput] = [:]
    private var deliver: ((WorkerOutput) -> Void)?
    /// Gets each submitted batch back once the engine is done with it, so its
    /// buffers (megabytes of vectors) are refilled instead of freshly mapped and
    /// page-faulted for every batch.
    var onSpentBatch: ((RecordBatch) -> Void)?
    /// Called on the loop thread when an engine job ends (before the next one
    /// starts: the moment to touch the engine, see `isBusy`) and when one starts
    /// (its slot is free): the daemon hands in the next job then, without
    /// waiting for formatting or for input.
    var onProgress: (() -> Void)?

    /// The engine's warm-up (held, target) as of its last job's end (read while it was idle).
    private(set) var warmup: (seen: Int, target: Int)?
    /// Gets the engine's notices (`DecisionEngine.takeNotices`) on the loop thread, after the job that made them.
    var onNotice: ((String) -> Void)?

    /// Whether outputs carry the kept records' ids (`--kept-ids`).
    var collectsKeptIds = false

    /// Jobs not yet delivered.
    var hasPendingOutput: Bool { nextToDeliver < nextSequence || isAssigning || next != nil }

    /// Whether a new job may be handed in: none waiting for the engine, and few
    /// enough formatted outputs waiting that memory stays bounded when
    /// formatting falls behind the engine (each holds a batch's decisions and lines).
    var isReady: Bool {
        !isAssigning && next == nil && nextSequence - nextToDeliver < Self.maximumUndelivered
    }
    static let maximumUndelivered = 2

    init(engine: DecisionEngine, sources: SourceTable, loop: EventLoop) {
        self.engine = engine
        self.sources = sources
        self.loop = loop
        aheadKernel = engine.aheadKernel
        warmup = engine.warmupProgress
    }

    /// Queues `job` behind the running one; `done` gets its formatted output on
    /// the loop thread, in job order. `isBusy` clears as soon as the engine is
    /// done, before formatting ends.
    func run(_ job: Job, done: @escaping (WorkerOutput) -> Void) {
        precondition(isReady, "one job waiting for the engine at a time")
        deliver = done
        guard case .submit(let batch) = job, let kernel = aheadKernel else {
            next = job
            startNext()
            return
        }
        isAssigning = true
        let state = AssignJob(batch: batch, kernel: kernel)
        loop.queueWork({ state.execute() }, then: { [self] in
            isAssigning = false
            next = .submit(state.takeBatch())
            startNext()
        })
    }

    /// Records of a restored engine whose lines the killed run already wrote (a
    /// connection's held records, decided after the checkpoint): by source index and
    /// `seq`. Set before the first job, read by formatting jobs only.
    var alreadyLogged: [UInt32: Set<UInt64>] = [:]

    /// No engine job running or waiting and every output delivered: the engine's
    /// state then reflects exactly the decisions handed to the log so far.
    var isIdle: Bool { !isBusy && !hasPendingOutput }

    /// Runs `body` on libuv's thread pool with the engine to itself (a checkpoint
    /// serialises all of it), then `done` on the loop thread. The loop goes on
    /// reading and writing meanwhile; engine jobs wait (`isBusy`).
    func runExclusively(_ body: @escaping () -> Void, then done: @escaping () -> Void) {
        precondition(isIdle, "exclusive work needs an idle engine")
        isBusy = true
        loop.queueWork(body, then: { [self] in
            isBusy = false
            done()
            onProgress?()
            startNext()
        })
    }

    /// Starts the waiting job if the engine is free and outputs are not piling up.
    private func startNext() {
        guard !isBusy, nextSequence - nextToDeliver < Self.maximumUndelivered, let job = next else { return }
        next = nil
        let sequence = nextSequence
        nextSequence += 1
        isBusy = true
        let state = EngineJob(job: job, engine: engine)
        loop.queueWork({ state.execute() }, then: { [self] in
            isBusy = false
            aheadKernel = engine.aheadKernel
            warmup = engine.warmupProgress
            for notice in engine.takeNotices() { onNotice?(notice) }
            if let batch = state.takeBatch() { onSpentBatch?(batch) }
            format(state.decided, sequence: sequence)
            onProgress?()
            startNext()
        })
        onProgress?()
    }

    private func format(_ decided: DecidedRecords, sequence: Int) {
        let state = FormatJob(decided: decided, sources: sources, collectsKeptIds: collectsKeptIds,
                              alreadyLogged: alreadyLogged)
        loop.queueWork({ state.execute() }, then: { [self] in
            finished[sequence] = state.output
            while let output = finished.removeValue(forKey: nextToDeliver) {
                nextToDeliver += 1
                deliver?(output)
            }
            startNext()
        })
    }

    /// Nearest-centroid assignment of a batch ahead of its engine job.
    private final class AssignJob: @unchecked Sendable {
        private var batch: RecordBatch?
        let kernel: NearestCentroid

        init(batch: RecordBatch, kernel: NearestCentroid) {
            self.batch = batch
            self.kernel = kernel
        }

        func execute() { batch!.assignAhead(with: kernel) }

        /// The assigned batch, given up by the job (so the caller holds its only reference).
        func takeBatch() -> RecordBatch {
            defer { batch = nil }
            return batch!
        }
    }

    /// An engine call, handed between threads by libuv's queue (which orders the accesses).
    private final class EngineJob: @unchecked Sendable {
        private var job: Job?
        let engine: DecisionEngine
        var decided = DecidedRecords()

        init(job: Job, engine: DecisionEngine) {
            self.job = job
            self.engine = engine
        }

        func execute() {
            switch job {
            case .submit(let batch)?: decided = engine.submit(batch)
            case .finish?: decided = engine.finish()
            case .decided(let records)?: decided = records
            case nil: break
            }
        }

        /// The submitted batch, given up by the job (so the caller holds its only reference).
        func takeBatch() -> RecordBatch? {
            guard case .submit(let batch)? = job else { return nil }
            job = nil
            return batch
        }
    }

    /// Formatting of one job's decisions into log lines, replies and counts.
    private final class FormatJob: @unchecked Sendable {
        let decided: DecidedRecords
        let sources: SourceTable
        let collectsKeptIds: Bool
        let alreadyLogged: [UInt32: Set<UInt64>]
        var output = WorkerOutput()

        init(decided: DecidedRecords, sources: SourceTable, collectsKeptIds: Bool, alreadyLogged: [UInt32: Set<UInt64>]) {
            self.decided = decided
            self.sources = sources
            self.collectsKeptIds = collectsKeptIds
            self.alreadyLogged = alreadyLogged
        }

        func execute() {
            guard !decided.isEmpty else { return }
            let names = sources.snapshot()
            var formatter = DecisionLineFormatter()
            let now = EngineWorker.millisecondsSinceEpoch()
            output.lines.reserveCapacity(decided.count * 200)
            for index in 0..<decided.count {
                let entry = decided.entries[index]
                if !alreadyLogged.isEmpty, alreadyLogged[entry.origin.source]?.contains(entry.origin.seq) == true { continue }
                let decision = decided.decisions[index]
                let source = names[Int(entry.origin.source)]
                let start = output.lines.count
                if source.defers {
                    formatter.append(ts: now, source: source.escapedName, seq: entry.origin.seq, id: entry.id,
                                     decision: decision, score: entry.score, to: &output.deferred[entry.origin.source, default: []])
                } else {
                    formatter.append(ts: now, source: source.escapedName, seq: entry.origin.seq, id: entry.id,
                                     decision: decision, score: entry.score, to: &output.lines)
                }
                if source.replies {
                    output.replies[entry.origin.source, default: []].append(contentsOf: output.lines[start...])
                }
                output.decidedPerSource[entry.origin.source, default: 0] += 1
                output.tally.count(decision)
                if collectsKeptIds && decision.verdict == .keep {
                    output.keptIds.append(contentsOf: entry.id.utf8)
                    output.keptIds.append(UInt8(ascii: "\n"))
                }
            }
        }
    }

    /// Wall-clock milliseconds for the `ts` field.
    static func millisecondsSinceEpoch() -> Int64 {
        var time = uv_timeval64_t()
        uv_gettimeofday(&time)
        return time.tv_sec * 1000 + Int64(time.tv_usec / 1000)
    }
}
