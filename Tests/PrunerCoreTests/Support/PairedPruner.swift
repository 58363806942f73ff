// The engine with the caller's side of its boundary, as the daemon drives it: the
// tests submit whole batches (ids, origins, rejections) and read decided records,
// while the engine sees only rows. Its properties are the engine's (dynamic members).
@testable import PrunerCore

/// A `StreamingPruner` and the `ArrivalOrder` that pairs its decisions with records.
@dynamicMemberLookup
struct PairedPruner: Sendable {
    var engine: StreamingPruner
    var order = ArrivalOrder()

    init(options: PruningOptions, dimension: Int, centroids: [Float]? = nil) throws {
        engine = try StreamingPruner(options: options, dimension: dimension, centroids: centroids)
    }

    init(engine: StreamingPruner, order: ArrivalOrder = ArrivalOrder()) {
        self.engine = engine
        self.order = order
    }

    /// Restores both from a checkpoint written by `checkpoint()` (or an earlier version's).
    init(checkpoint bytes: [UInt8], options: PruningOptions, dimension: Int? = nil) throws {
        (engine, order) = try StreamingPruner.restoring(checkpoint: bytes, options: options, dimension: dimension)
    }

    mutating func submit(_ batch: RecordBatch) -> DecidedRecords {
        order.append(batch)
        return order.pair(engine.submit(batch.rows))
    }

    mutating func finish() -> DecidedRecords { order.pair(engine.finish()) }

    func checkpoint() -> [UInt8] { engine.checkpoint(order: order) }

    func snapshot() -> EngineSnapshot { engine.snapshot().including(order) }

    mutating func reload(_ options: PruningOptions) throws { try engine.reload(options) }

    subscript<Value>(dynamicMember path: WritableKeyPath<StreamingPruner, Value>) -> Value {
        get { engine[keyPath: path] }
        set { engine[keyPath: path] = newValue }
    }

    subscript<Value>(dynamicMember path: KeyPath<StreamingPruner, Value>) -> Value { engine[keyPath: path] }
}
