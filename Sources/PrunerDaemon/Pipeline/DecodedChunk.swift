// Records decoded from one read, off the loop thread: the LZ4 frames, the
// record framing, the element conversion and the normalisation of a read's
// records run in a pool job, and the loop thread only appends the result to
// the batch being filled (a copy). The loop thread is then free to hand
// batches between the engine's jobs while an input is being decoded.
import PrunerCore
import PrunerIO

/// What one decode job produced from one read of one input, in input order.
///
/// Owned by its input and reused read after read (its buffers keep their
/// capacity). Touched by one thread at a time: the decode job fills it, then
/// the loop thread merges it into the batcher and clears it.
final class DecodedChunk: @unchecked Sendable {
    /// Rejections that came before the chunk's first valid record while the
    /// engine's dimension was not yet known (nothing to size `records` by).
    private(set) var leadingRejections: [RecordBatch.Entry] = []
    /// The chunk's records, normalised; created with the engine's dimension,
    /// or with the first valid record's when the engine has none yet.
    private(set) var records: RecordBatch?
    /// Records decoded (valid and rejected): the input's `seq` advanced by this much.
    private(set) var count = 0
    /// The framing error that ended the input, if one did.
    var error: StreamError?
    /// When the bytes were read (for read → written latency), in uv_hrtime nanoseconds.
    var readAt: UInt64 = 0

    /// Adds one decoded record. `dimension` is the engine's, if already known.
    func add(_ event: RecordEvent, origin: RecordOrigin, dimension: Int?) {
        count += 1
        switch event {
        case .record(let id, let vector, let score):
            if records == nil {
                records = RecordBatch(dimension: dimension ?? vector.count, reservingCapacity: Self.expectedRecords)
            }
            records!.append(origin: origin, id: id, score: score, vector: vector)
        case .rejected(let id, let reason):
            if records != nil {
                records!.appendRejection(origin: origin, id: id, reason: reason)
            } else {
                leadingRejections.append(RecordBatch.Entry(origin: origin, id: id, score: nil, rejection: reason, row: -1))
            }
        }
    }

    /// Empties the chunk for the next read, keeping its buffers.
    func clear() {
        leadingRejections.removeAll(keepingCapacity: true)
        records?.removeAll()
        count = 0
        error = nil
    }

    /// Rows a chunk's buffers start with: a 256 KiB read of d = 384 float16 records holds ~330.
    static let expectedRecords = 512
}
