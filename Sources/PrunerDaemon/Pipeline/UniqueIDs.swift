// `--unique-ids`: which ids the daemon has seen, checked as records are read
// (before the engine, which never sees a repeated id).
//
// Two parts, so that the filter always describes exactly the records handed to
// the engine — the records a checkpoint's input positions count:
//   - the Bloom filter (`IDFilter`) of ids handed to the engine, checkpointed;
//   - the exact set of ids read but still waiting in the batch being filled
//     (bounded by the backpressure threshold), moved into the filter when that
//     batch goes to the engine.
// A record read again after a restart (it was waiting, not handed, at the
// checkpoint) is then not mistaken for its own duplicate.
import PrunerCore

/// The ids seen by this daemon (and, restored from the checkpoint, by the runs before it).
final class UniqueIDs {
    private(set) var filter: IDFilter
    /// Ids of valid records in the batch being filled, not yet in `filter`.
    private var waiting: Set<String> = []

    init(filter: IDFilter) {
        self.filter = filter
    }

    /// Whether a record with `id` was handed to the engine before (or probably was:
    /// see `IDFilter.designRate`), or is waiting for it now.
    func isRepeated(_ id: String) -> Bool {
        waiting.contains(id) || filter.contains(id)
    }

    /// Notes a valid record's id as waiting for the engine.
    func noteWaiting(_ id: String) {
        waiting.insert(id)
    }

    /// The batch holding the waiting ids goes to the engine: they join the filter.
    func handWaitingToEngine() {
        guard !waiting.isEmpty else { return }
        for id in waiting { filter.insert(id) }
        waiting.removeAll(keepingCapacity: true)
    }

    /// Whether the filter holds more ids than it was sized for (`--expected-records`):
    /// its false-positive rate is then above the design rate, and grows.
    var isOverfilled: Bool { filter.insertedCount > filter.expectedRecords }
}
