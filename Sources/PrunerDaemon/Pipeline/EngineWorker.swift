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
    /// Decisions per source (to know when a reply connection has all its answers).
    var decidedPerSource: [UInt32: Int] = [:]
    var tally = DecisionTally()
}

/// Runs engine jobs on libuv's thread pool, one at a time, and formats their
/// decisions in separate jobs that may overlap the next engine job. Outputs are
/// delivered in submission order whatever order the formatting jobs finish in.
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
    private var nextSequence = 0
    private var nextToDeliver = 0
    private var finished: [Int: WorkerOutput] = [:]
    private var deliver: ((WorkerOutput) -> Void)?
    /// Gets each submitted batch back once the engine is done with it, so its
    /// buffers (megabytes of vectors) are refilled instead of freshly mapped and
    /// page-faulted for every batch.
    var onSpentBatch: ((RecordBatch) -> Void)?

    /// Formatting jobs not yet delivered.
    var hasPendingOutput: Bool { nextToDeliver < nextSequence }

    /// Whether a new job may start: no engine job running, and few enough
    /// formatted outputs waiting that memory stays bounded when formatting
    /// falls behind the engine (each holds a batch's decisions and lines).
    var isReady: Bool { !isBusy && nextSequence - nextToDeliver < Self.maximumUndelivered }
    static let maximumUndelivered = 2

    init(engine: DecisionEngine, sources: SourceTable, loop: EventLoop) {
        self.engine = engine
        self.sources = sources
        self.loop = loop
    }

    /// Runs `job`; `done` gets its formatted output on the loop thread, in job order.
    /// `isBusy` clears as soon as the engine is done, before formatting ends.
    func run(_ job: Job, done: @escaping (WorkerOutput) -> Void) {
        precondition(!isBusy, "one engine job at a time")
        deliver = done
        let sequence = nextSequence
        nextSequence += 1
        isBusy = true
        let state = EngineJob(job: job, engine: engine)
        loop.queueWork({ state.execute() }, then: { [self] in
            isBusy = false
            if let batch = state.takeBatch() { onSpentBatch?(batch) }
            format(state.decided, sequence: sequence)
        })
    }

    private func format(_ decided: DecidedRecords, sequence: Int) {
        let state = FormatJob(decided: decided, sources: sources)
        loop.queueWork({ state.execute() }, then: { [self] in
            finished[sequence] = state.output
            while let output = finished.removeValue(forKey: nextToDeliver) {
                nextToDeliver += 1
                deliver?(output)
            }
        })
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
        var output = WorkerOutput()

        init(decided: DecidedRecords, sources: SourceTable) {
            self.decided = decided
            self.sources = sources
        }

        func execute() {
            guard !decided.isEmpty else { return }
            let names = sources.snapshot()
            var formatter = DecisionLineFormatter()
            let now = EngineWorker.millisecondsSinceEpoch()
            output.lines.reserveCapacity(decided.count * 200)
            for index in 0..<decided.count {
                let entry = decided.entries[index]
                let decision = decided.decisions[index]
                let source = names[Int(entry.origin.source)]
                let start = output.lines.count
                formatter.append(ts: now, source: source.escapedName, seq: entry.origin.seq, id: entry.id,
                                 decision: decision, to: &output.lines)
                if source.replies {
                    output.replies[entry.origin.source, default: []].append(contentsOf: output.lines[start...])
                }
                output.decidedPerSource[entry.origin.source, default: 0] += 1
                output.tally.count(decision)
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
