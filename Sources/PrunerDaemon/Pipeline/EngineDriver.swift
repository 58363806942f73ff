// The one way records reach the engine: the batch being filled, the worker that
// runs engine jobs off the loop thread, the positions handed so far (for the
// checkpoint), and the moments between engine jobs when the loop may read or
// change the engine. Lives on the loop thread.
import Logging
import PrunerCore
import PrunerIO

/// Hands batches from the batcher to the engine worker and delivers their outputs.
final class EngineDriver {
    /// What `handInNext` did.
    enum HandIn {
        /// A batch went to the engine: the queue of records waiting shrank.
        case batch
        /// Rejections decided without the engine went their way.
        case rejections
        /// Something is waiting (the worker's slot, a larger batch, the cluster).
        case waiting
        /// Nothing to hand in: no record waits.
        case empty
    }

    /// Records a batch needs before it is handed in while the engine is busy.
    static let minimumBatchAhead = 1024
    /// Records a batch may gain beyond `maxPendingRecords`: reading pauses there,
    /// but the bytes already read are still decoded (a 256 KiB file read holds
    /// ~330 records of d = 384 float16).
    static let batchHeadroom = 1024

    let batcher: RecordBatcher
    private let worker: EngineWorker
    private let logger: Logger
    /// Per source index: the `seq` after the last record handed to the engine worker.
    private var handed: [UInt64] = []
    /// Work that needs the engine to itself, waiting for the running engine step's end.
    private var idleRequests: [() -> Void] = []
    /// The loop holds the engine between two steps (serving `idleRequests`).
    private var isHoldingEngine = false
    /// The id filter was reported holding more ids than `--expected-records`.
    private var warnedIDFilterOverfilled = false

    /// Gets every job's formatted output on the loop thread, in job order.
    var deliver: (WorkerOutput) -> Void = { _ in }
    /// Asked before a batch is taken, with the engine's warm-up: false keeps the records
    /// waiting (a cluster shard without the cluster's centroids, its warm-up full).
    var mayTakeBatch: ((_ warmup: (seen: Int, target: Int)?) -> Bool)?

    /// Called when an engine job starts or ends (see `EngineWorker.onProgress`): the moment to hand in the next.
    var onProgress: (() -> Void)? {
        get { worker.onProgress }
        set { worker.onProgress = newValue }
    }

    init(engine: DecisionEngine, sources: SourceTable, loop: EventLoop, logger: Logger,
         maxPendingRecords: Int, uniqueIDs: consuming IDFilter?) {
        self.logger = logger
        self.worker = EngineWorker(engine: engine, sources: sources, loop: loop)
        self.batcher = RecordBatcher(dimension: engine.dimension, batchCapacity: maxPendingRecords + Self.batchHeadroom,
                                     uniqueIDs: uniqueIDs.map(UniqueIDs.init(filter:)))
        worker.onSpentBatch = { [batcher] batch in batcher.recycle(batch) }
        worker.onNotice = { [logger] notice in logger.info("\(notice)") }
    }

    /// The engine. Read or change it only between jobs (`whenIdle`) or while it is readable.
    var engine: DecisionEngine { worker.engine }
    /// The engine's warm-up (held, target) as of its last job's end.
    var warmup: (seen: Int, target: Int)? { worker.warmup }
    /// Records waiting for the engine.
    var pendingCount: Int { batcher.pendingCount }
    /// `--unique-ids`: the filter of ids seen, or nil.
    var idFilter: IDFilter? { batcher.uniqueIDs?.filter }
    /// No engine job running or waiting and every output delivered (see `EngineWorker.isIdle`).
    var isIdle: Bool { worker.isIdle }
    /// A new job may be handed in now.
    var isReady: Bool { worker.isReady }
    /// Nothing runs, waits or is undelivered, and no record waits for the engine: what it holds, it holds
    /// for the look-ahead or the warm-up.
    var isQuiet: Bool {
        worker.isReady && !worker.isBusy && !worker.hasPendingOutput && batcher.pendingCount == 0
    }
    /// Whether outputs still come from jobs handed in.
    var hasPendingOutput: Bool { worker.hasPendingOutput }

    /// Connections of a restored run whose lines the killed run already wrote: by source index and `seq`.
    func setAlreadyLogged(_ seqs: Set<UInt64>, source: UInt32) { worker.alreadyLogged[source] = seqs }

    /// Whether outputs carry the kept records' ids (`--kept-ids`).
    func collectKeptIds() { worker.collectsKeptIds = true }

    /// Hands the next job to the worker if it can take one.
    func handInNext() -> HandIn {
        guard worker.isReady else { return .waiting }
        if let early = batcher.takeEarlyRejections() {
            noteHanded(early.entries)
            worker.run(.decided(early), done: deliver)
            return .rejections
        }
        // The engine is busy: let the batch grow before it is assigned ahead
        // (per-batch costs would outweigh the overlap); the engine's end pumps again.
        if worker.isBusy && batcher.pendingCount < Self.minimumBatchAhead { return .waiting }
        if let mayTakeBatch, !mayTakeBatch(worker.warmup) { return .waiting }
        guard let batch = batcher.takeBatch() else { return .empty }
        noteHanded(batch.entries)
        if let uniqueIDs = batcher.uniqueIDs, uniqueIDs.isOverfilled, !warnedIDFilterOverfilled {
            warnedIDFilterOverfilled = true
            let filter = uniqueIDs.filter
            logger.warning("--unique-ids: the id filter now holds \(filter.insertedCount) ids, more than the \(filter.expectedRecords) it was sized for (--expected-records): new records are dropped as duplicate_id more often than 1 in \(Int((1 / filter.designRate).rounded())) (now about 1 in \(Int((1 / max(filter.expectedRate, 1e-12)).rounded()))) and the rate keeps growing; start anew (--fresh) with a larger --expected-records")
        }
        worker.run(.submit(batch), done: deliver)
        return .batch
    }

    /// End of input (or `--max-hold`): the engine decides everything it holds.
    func finish() { worker.run(.finish, done: deliver) }

    /// An empty batch, so the engine takes what a cluster shard adopted between batches.
    func nudge() {
        guard worker.isReady, !worker.isBusy, let dimension = worker.engine.dimension else { return }
        worker.run(.submit(RecordBatch(dimension: dimension)), done: deliver)
    }

    /// Runs `body` with the engine to itself on the thread pool (see `EngineWorker.runExclusively`).
    func runExclusively(_ body: @escaping () -> Void, then done: @escaping () -> Void) {
        worker.runExclusively(body, then: done)
    }

    // MARK: Positions

    /// Remembers how far each input has been handed to the engine (entries of one
    /// input arrive in `seq` order), for the checkpoint's positions.
    private func noteHanded(_ entries: [RecordBatch.Entry]) {
        for entry in entries { noteHanded(source: entry.origin.source, upTo: entry.origin.seq + 1) }
    }

    /// Records of `source` before `seq` count as handed (a resumed input skips them).
    @inline(__always)
    func noteHanded(source: UInt32, upTo seq: UInt64) {
        let index = Int(source)
        if index >= handed.count { handed += [UInt64](repeating: 0, count: index + 1 - handed.count) }
        if seq > handed[index] { handed[index] = seq }
    }

    /// The `seq` after the last record of `source` handed to the engine.
    func handedPosition(of source: UInt32) -> UInt64 {
        Int(source) < handed.count ? handed[Int(source)] : 0
    }

    // MARK: Between engine steps

    /// Runs `body` on the loop thread at a moment no engine step runs (none starts
    /// until it returns), so it may read or change the engine: at once when the
    /// pipeline is between steps, else when the running step's job ends.
    func whenIdle(_ body: @escaping () -> Void) {
        if isHoldingEngine {
            body()
            return
        }
        idleRequests.append(body)
        serveIdleRequests()
    }

    /// Runs the requests that waited for the engine, if it can be held now.
    func serveIdleRequests() {
        guard !isHoldingEngine, !idleRequests.isEmpty, worker.holdEngine() else { return }
        isHoldingEngine = true
        while !idleRequests.isEmpty {
            let requests = idleRequests
            idleRequests = []
            for request in requests { request() }
        }
        isHoldingEngine = false
        worker.releaseEngine()
    }
}
