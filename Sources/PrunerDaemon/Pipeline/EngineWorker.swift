// Runs the engine off the loop thread and formats the decision lines there too,
// so the loop thread only reads, decodes and writes. Each job is one work item
// on libuv's thread pool that chains its stages itself — assign ahead, engine
// step, format — so consecutive jobs overlap (the next batch's assignment, this
// one's engine step, the previous one's formatting) without a hop through the
// loop between stages. Engine steps take turns in job order (`EngineTurns`), so
// the engine is never touched by two threads at once and decisions come back in
// submission order.
import CLibUV
import PrunerCore
import PrunerIO
#if canImport(Glibc)
import Glibc
#endif

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

/// Runs engine jobs on libuv's thread pool, up to `maximumInFlight` at once, each
/// chaining its own stages; outputs are delivered on the loop thread in submission
/// order whatever order the jobs finish in.
///
/// When the engine's assignment kernel cannot change (`aheadKernel`), a job first
/// assigns its batch to the nearest centroids, while the job before it is in its
/// engine step: the engine then only does its sequential per-record work, and both
/// cores stay busy.
final class EngineWorker {
    enum Job {
        case submit(RecordBatch)
        case finish
        case decided(DecidedRecords)
    }

    let engine: DecisionEngine
    private let sources: SourceTable
    private let loop: EventLoop
    private let turns: EngineTurns
    /// Jobs handed in and not yet delivered.
    private var inFlight = 0
    /// A checkpoint has the engine to itself (`runExclusively`).
    private var isExclusive = false
    private var nextSequence = 0
    private var nextToDeliver = 0
    private var finished: [Int: PipelineJob] = [:]
    private var deliver: ((WorkerOutput) -> Void)?
    /// Gets each submitted batch back once the engine is done with it, so its
    /// buffers (megabytes of vectors) are refilled instead of freshly mapped and
    /// page-faulted for every batch.
    var onSpentBatch: ((RecordBatch) -> Void)?
    /// Called on the loop thread when a job ends and when exclusive work ends:
    /// the daemon hands in the next job then, and serves what waited for the engine.
    var onProgress: (() -> Void)?

    /// The engine's warm-up (held, target) as of its last delivered job (read while it was idle).
    private(set) var warmup: (seen: Int, target: Int)?
    /// Gets the engine's notices (`DecisionEngine.takeNotices`) on the loop thread, after the job that made them.
    var onNotice: ((String) -> Void)?

    /// Whether outputs carry the kept records' ids (`--kept-ids`).
    var collectsKeptIds = false

    /// Jobs in the pipeline at once: one assigning, one in its engine step, one formatting.
    /// More would only hold more batches (each megabytes) in memory.
    static let maximumInFlight = 3

    /// Jobs not yet delivered.
    var hasPendingOutput: Bool { inFlight > 0 }

    /// Whether a new job may be handed in: the pipeline has room and no exclusive work runs.
    var isReady: Bool { !isExclusive && inFlight < Self.maximumInFlight }

    /// A job is in flight or exclusive work runs: the engine may be in use until they end.
    var isBusy: Bool { isExclusive || inFlight > 0 }

    init(engine: DecisionEngine, sources: SourceTable, loop: EventLoop) {
        self.engine = engine
        self.sources = sources
        self.loop = loop
        self.turns = EngineTurns(aheadKernel: engine.aheadKernel)
        warmup = engine.warmupProgress
    }

    /// Hands `job` to the pipeline; `done` gets its formatted output on the loop
    /// thread, in job order.
    func run(_ job: Job, done: @escaping (WorkerOutput) -> Void) {
        precondition(isReady, "the pipeline is full")
        deliver = done
        let item = PipelineJob(sequence: nextSequence, job: job, engine: engine, turns: turns, sources: sources,
                               collectsKeptIds: collectsKeptIds, alreadyLogged: alreadyLogged)
        nextSequence += 1
        inFlight += 1
        loop.queueWork({ item.execute() }, then: { [self] in
            finished[item.sequence] = item
            while let ready = finished.removeValue(forKey: nextToDeliver) {
                nextToDeliver += 1
                inFlight -= 1
                warmup = ready.warmup
                for notice in ready.notices { onNotice?(notice) }
                if let batch = ready.takeSpentBatch() { onSpentBatch?(batch) }
                deliver?(ready.output)
            }
            onProgress?()
        })
    }

    /// Records of a restored engine whose lines the killed run already wrote (a
    /// connection's held records, decided after the checkpoint): by source index and
    /// `seq`. Set before the first job, read by formatting only.
    var alreadyLogged: [UInt32: Set<UInt64>] = [:]

    /// No job in flight and no exclusive work: the engine's state then reflects
    /// exactly the decisions handed to the log so far.
    var isIdle: Bool { !isBusy }

    /// Holds the engine between two engine steps for the loop thread, if no step runs
    /// now: true when the loop may read or change the engine until `releaseEngine()`.
    /// False: a step runs (or exclusive work); the hold stays asked for, so no further
    /// step starts, and the running job's end (`onProgress`) is the moment to ask again.
    func holdEngine() -> Bool {
        guard !isExclusive else { return false }
        return turns.hold()
    }

    /// Ends a hold of `holdEngine()`: engine steps go on, with the kernel the engine has now.
    func releaseEngine() { turns.release(aheadKernel: engine.aheadKernel) }

    /// Runs `body` on libuv's thread pool with the engine to itself (a checkpoint
    /// serialises all of it), then `done` on the loop thread. The loop goes on
    /// reading and writing meanwhile; engine jobs wait (`isReady`).
    func runExclusively(_ body: @escaping () -> Void, then done: @escaping () -> Void) {
        precondition(isIdle, "exclusive work needs an idle engine")
        isExclusive = true
        loop.queueWork(body, then: { [self] in
            isExclusive = false
            done()
            onProgress?()
        })
    }

    /// One job's stages on a pool thread, in order: assign ahead (overlapping the
    /// previous job's engine step), the engine step (in its turn), formatting
    /// (overlapping the next job's engine step).
    private final class PipelineJob: @unchecked Sendable {
        /// What the engine step does.
        private enum Step {
            case submit
            case finish
            case decided(DecidedRecords)
        }

        let sequence: Int
        private let step: Step
        /// The submitted batch, held here alone so that assigning it ahead is in place, not a copy.
        private var batch: RecordBatch?
        private let engine: DecisionEngine
        private let turns: EngineTurns
        private let sources: SourceTable
        private let collectsKeptIds: Bool
        private let alreadyLogged: [UInt32: Set<UInt64>]
        private(set) var output = WorkerOutput()
        private(set) var warmup: (seen: Int, target: Int)?
        private(set) var notices: [String] = []

        init(sequence: Int, job: Job, engine: DecisionEngine, turns: EngineTurns, sources: SourceTable,
             collectsKeptIds: Bool, alreadyLogged: [UInt32: Set<UInt64>]) {
            self.sequence = sequence
            switch job {
            case .submit(let submitted):
                step = .submit
                batch = submitted
            case .finish: step = .finish
            case .decided(let records): step = .decided(records)
            }
            self.engine = engine
            self.turns = turns
            self.sources = sources
            self.collectsKeptIds = collectsKeptIds
            self.alreadyLogged = alreadyLogged
        }

        func execute() {
            if batch != nil, let kernel = turns.aheadKernel { batch!.assignAhead(with: kernel) }
            turns.begin(sequence)
            let decided: DecidedRecords
            switch step {
            case .submit: decided = engine.submit(batch!)
            case .finish: decided = engine.finish()
            case .decided(let records): decided = records
            }
            warmup = engine.warmupProgress
            notices = engine.takeNotices()
            turns.end(aheadKernel: engine.aheadKernel)
            output = FormatJob.format(decided, sources: sources, collectsKeptIds: collectsKeptIds,
                                      alreadyLogged: alreadyLogged)
        }

        /// The submitted batch, given up by the job (so the caller holds its only reference).
        func takeSpentBatch() -> RecordBatch? {
            defer { batch = nil }
            return batch
        }
    }

    /// Formatting of one job's decisions into log lines, replies and counts.
    private enum FormatJob {
        static func format(_ decided: DecidedRecords, sources: SourceTable, collectsKeptIds: Bool,
                           alreadyLogged: [UInt32: Set<UInt64>]) -> WorkerOutput {
            var output = WorkerOutput()
            guard !decided.isEmpty else { return output }
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
            return output
        }
    }

    /// Wall-clock milliseconds for the `ts` field.
    static func millisecondsSinceEpoch() -> Int64 {
        var time = uv_timeval64_t()
        uv_gettimeofday(&time)
        return time.tv_sec * 1000 + Int64(time.tv_usec / 1000)
    }
}
