// Gathers decoded records from all inputs into the next batch for the engine,
// fixing the engine's dimension on the first valid record (or from given
// centroids) and rejecting records of any other dimension. With
// `--unique-ids`, a record whose id was seen before becomes a pass-through
// entry (answered `drop`/`duplicate_id` in its input's order, see `UniqueIDs`).
import PrunerCore
import PrunerIO

/// The batch being filled on the loop thread.
final class RecordBatcher {
    /// The engine's dimension, once known.
    private(set) var dimension: Int?
    private var pending: RecordBatch?
    /// Batches the engine is done with, refilled next (their capacity is kept). Up
    /// to four batches are live (filling, and three in the engine worker's
    /// pipeline). Two spares, not one: with one, every other batch was a fresh
    /// buffer whose pages faulted in as it filled (with the earlier worker: 150k
    /// faults per million records, against ~28k with two; 7–8% faster).
    private var spares: [RecordBatch] = []
    static let maximumSpares = 2
    /// Rejections that arrive before any valid record fixed the dimension; they
    /// need no engine, and nothing of their input can be ahead of them.
    private var earlyRejections = DecidedRecords()

    /// Rows every batch buffer is created with: buffers are reused, so they all
    /// reach their largest size at once, not by doubling as rare large batches
    /// come (which made peak RSS creep up with stream length).
    private let batchCapacity: Int

    /// `--unique-ids`: the ids seen so far, or nil when repeated ids are decided like any record.
    let uniqueIDs: UniqueIDs?

    /// - Parameter batchCapacity: rows to reserve per batch (the backpressure
    ///   threshold plus what the reads in progress may still add).
    init(dimension: Int?, batchCapacity: Int, uniqueIDs: UniqueIDs? = nil) {
        self.dimension = dimension
        self.batchCapacity = batchCapacity
        self.uniqueIDs = uniqueIDs
        if let dimension { pending = RecordBatch(dimension: dimension, reservingCapacity: batchCapacity) }
    }

    /// Records waiting for the engine.
    var pendingCount: Int { (pending?.count ?? 0) + earlyRejections.count }

    /// Adds one decoded record.
    func accept(_ event: RecordEvent, origin: RecordOrigin) {
        switch event {
        case .record(let id, let vector, let score):
            if dimension == nil {
                dimension = vector.count
                pending = RecordBatch(dimension: vector.count, reservingCapacity: batchCapacity)
            }
            guard let uniqueIDs else {
                pending!.append(origin: origin, id: id, score: score, vector: vector)
                return
            }
            if uniqueIDs.isRepeated(id) {
                pending!.appendDuplicateID(origin: origin, id: id, score: score)
            } else if pending!.append(origin: origin, id: id, score: score, vector: vector) == nil {
                // Only a decided id counts: a rejected record's retry (fixed) is decided.
                uniqueIDs.noteWaiting(id)
            }
        case .rejected(let id, let reason):
            if pending != nil {
                pending!.appendRejection(origin: origin, id: id, reason: reason)
            } else {
                earlyRejections.entries.append(
                    RecordBatch.Entry(origin: origin, id: id, score: nil, rejection: reason, row: -1))
                earlyRejections.decisions.append(.reject(reason))
            }
        }
    }

    /// Takes the rejections decided without the engine.
    func takeEarlyRejections() -> DecidedRecords? {
        guard !earlyRejections.isEmpty else { return nil }
        defer { earlyRejections = DecidedRecords() }
        return earlyRejections
    }

    /// Takes the filled batch, leaving an empty one (a spare, when there is one).
    /// With `--unique-ids`, its ids join the filter now: it goes to the engine.
    func takeBatch() -> RecordBatch? {
        guard let batch = pending, !batch.isEmpty else { return nil }
        uniqueIDs?.handWaitingToEngine()
        if var reused = spares.popLast() {
            reused.removeAll()
            pending = reused
        } else {
            pending = RecordBatch(dimension: batch.dimension, reservingCapacity: batchCapacity)
        }
        return batch
    }

    /// Keeps a batch the engine is done with for reuse (at most `maximumSpares`).
    func recycle(_ batch: RecordBatch) {
        guard batch.dimension == dimension, spares.count < Self.maximumSpares else { return }
        spares.append(batch)
    }
}
