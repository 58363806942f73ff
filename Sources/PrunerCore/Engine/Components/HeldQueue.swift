// The lookahead queue: records waiting, in arrival order, for their decision.
import DequeModule

/// Records held until `lookahead` later valid records have arrived. Owns
/// checkpoint section `HELD`.
///
/// Every row passes through, filtered ones too, so that decisions come out in
/// arrival order. A held record is what the engine decides by: its concept and
/// distance, not its id or origin (the caller's `ArrivalOrder` keeps those).
/// With decision-time re-assignment the
/// queue also keeps each record's vector in float16 (`rows`, aligned with
/// `records`), so it can be assigned again to the centroids of the moment it
/// is decided.
struct HeldQueue: Sendable {
    /// What a held record is waiting for.
    enum Kind: UInt8, Sendable {
        /// A valid record, decided by its concept's threshold (or exactly, at the end).
        case normal = 0
        /// A near-duplicate: dropped, kept out of the statistics.
        case duplicate = 1
        /// Below `--min-score`: dropped before clustering.
        case lowScore = 2
        /// Member of a retired concept, already decided at retirement: kept or dropped.
        case fixedKeep = 3, fixedDrop = 4
        // The raw values are checkpoint codes: never renumber them.
    }

    /// One record waiting for its decision.
    struct Record: Sendable {
        /// −1 for a low-score record.
        var cluster: Int32
        var distance: Float
        var kind: Kind = .normal
        /// For `fixedKeep`/`fixedDrop`: the retired concept's threshold the record was decided against.
        var fixedThreshold: Float = 0
        /// The concept table's epoch that `cluster` and `distance` come from.
        var epoch: UInt32 = 0
        /// A bound, at `epoch`, on every other centroid's computed similarity to the held
        /// vector (+∞: none known). Not checkpointed: a restored record is re-assigned in full.
        var runnerUp: Float = .infinity
    }

    /// Held records, oldest first.
    var records = Deque<Record>()
    /// With re-assignment: `dimension` float16 values per record from `rowsStart` on (zeros for records without one).
    var rows: [Float16] = []
    /// Records already decided whose rows are still at the front of `rows` (dropped in blocks).
    var rowsStart = 0
    /// Valid non-duplicate records held (what `lookahead` counts).
    var valid = 0
    /// Valid non-duplicate records held per concept (a concept with held members is never retired).
    var perConcept: [Int]

    init(clusters k: Int) {
        perConcept = [Int](repeating: 0, count: k)
    }

    var isEmpty: Bool { records.isEmpty }
    var count: Int { records.count }

    /// Queues a record; with `keepingRows`, its vector too (zeros when it has none).
    mutating func hold(_ record: Record, row: UnsafeBufferPointer<Float>?, keepingRows: Bool, dimension d: Int) {
        records.append(record)
        guard keepingRows else { return }
        let start = rows.count
        rows.append(contentsOf: repeatElement(0, count: d))
        guard let row else { return }
        rows.withUnsafeMutableBufferPointer { rows in
            for t in 0..<d { rows[start + t] = Float16(row[t]) }
        }
    }

    /// Whether every held record has its row (the precondition of re-assignment).
    func hasRows(dimension d: Int) -> Bool { rows.count == (rowsStart + records.count) * d }

    /// Removes the oldest record (decided).
    mutating func removeFirst(dimension d: Int) {
        records.removeFirst()
        if records.isEmpty {
            rows.removeAll(keepingCapacity: true)
            rowsStart = 0
        } else if !rows.isEmpty {
            rowsStart += 1
            if rowsStart > 4096 && rowsStart * 2 > rowsStart + records.count {
                rows.removeFirst(rowsStart * d)
                rowsStart = 0
            }
        }
    }

    /// Empties the queue (`finish()` decided everything).
    mutating func removeAll() {
        records.removeAll(keepingCapacity: true)
        rows.removeAll(keepingCapacity: true)
        rowsStart = 0
        valid = 0
    }

    func write(to w: inout ByteWriter, dimension d: Int) {
        w.int(records.count)
        for h in records {
            w.u32(UInt32(bitPattern: h.cluster)); w.f32(h.distance)
            w.u8(h.kind.rawValue); w.f32(h.fixedThreshold); w.u32(h.epoch)
        }
        w.int(valid)
        w.ints(perConcept)
        w.halves(rows.isEmpty ? [] : Array(rows[(rowsStart * d)...]))
    }

    /// Reads section `HELD`. Version 5 stored each record's entry too, rejections included:
    /// those entries go to `entries` (for the caller's `ArrivalOrder`), and the rejections,
    /// which the engine no longer holds, are left out with their zero rows.
    init(reading r: inout ByteReader, clusters k: Int, dimension d: Int, keepsRows: Bool, version: UInt32,
         entries: inout [RecordBatch.Entry]) throws {
        let n = try r.count(elementSize: 1)
        var rejections = [Bool]()
        for _ in 0..<n {
            if version < 6 { entries.append(try EntryCoding.read(&r)) }
            let cluster = Int32(bitPattern: try r.u32()), distance = try r.f32()
            let code = try r.u8()
            guard let kind = Kind(rawValue: code) else { throw CheckpointError.malformed("held record kind \(code)") }
            let record = Record(cluster: cluster, distance: distance, kind: kind, fixedThreshold: try r.f32(), epoch: try r.u32())
            let isRejection = version < 6 && kind == .normal && cluster < 0
            rejections.append(isRejection)
            if !isRejection { records.append(record) }
        }
        try CheckpointError.require(records.allSatisfy { $0.cluster < Int32(k) && ($0.kind != .normal || $0.cluster >= 0) },
                                    "held record cluster")
        valid = try r.int()
        perConcept = try r.ints()
        try CheckpointError.require(perConcept.count == k, "held records per concept")
        let stored = try r.halves()
        try CheckpointError.require(stored.count == (keepsRows ? n * d : 0), "held record vectors")
        if stored.isEmpty || !rejections.contains(true) {
            rows = stored
        } else {
            for i in 0..<n where !rejections[i] { rows.append(contentsOf: stored[(i * d)..<(i * d + d)]) }
        }
    }
}
