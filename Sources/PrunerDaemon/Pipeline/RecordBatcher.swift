// Gathers decoded records from all inputs into the next batch for the engine,
// fixing the engine's dimension on the first valid record (or from given
// centroids) and rejecting records of any other dimension.
import PrunerCore
import PrunerIO

/// The batch being filled on the loop thread.
final class RecordBatcher {
    /// The engine's dimension, once known.
    private(set) var dimension: Int?
    private var pending: RecordBatch?
    /// A batch the engine is done with, emptied and refilled next (its capacity is kept).
    private var spare: RecordBatch?
    /// Rejections that arrive before any valid record fixed the dimension; they
    /// need no engine, and nothing of their input can be ahead of them.
    private var earlyRejections = DecidedRecords()

    init(dimension: Int?) {
        self.dimension = dimension
        if let dimension { pending = RecordBatch(dimension: dimension) }
    }

    /// Records waiting for the engine.
    var pendingCount: Int { (pending?.count ?? 0) + earlyRejections.count }

    /// Adds one decoded record.
    func accept(_ event: RecordEvent, origin: RecordOrigin) {
        switch event {
        case .record(let id, let vector, let score):
            if dimension == nil {
                dimension = vector.count
                pending = RecordBatch(dimension: vector.count)
            }
            pending!.append(origin: origin, id: id, score: score, vector: vector)
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

    /// Takes the filled batch, leaving an empty one (the spare, when there is one).
    func takeBatch() -> RecordBatch? {
        guard let batch = pending, !batch.isEmpty else { return nil }
        if var reused = spare, reused.dimension == batch.dimension {
            spare = nil
            reused.removeAll()
            pending = reused
        } else {
            pending = RecordBatch(dimension: batch.dimension, reservingCapacity: batch.count)
        }
        return batch
    }

    /// Keeps a batch the engine is done with for reuse (one spare at most: memory stays bounded).
    func recycle(_ batch: RecordBatch) {
        spare = batch
    }
}
