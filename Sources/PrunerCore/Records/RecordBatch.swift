// The unit of work between ingest and the engine: records in arrival order,
// each either a normalised vector or a rejection, with where it came from.

/// Where a record came from and its place there, carried untouched from the
/// decoder to the decision log line.
public struct RecordOrigin: Sendable, Hashable {
    /// Index into the daemon's table of input names (`stdin`, `file:/x.lz4`, …).
    public var source: UInt32
    /// The record's index within that input, from 0.
    public var seq: UInt64

    public init(source: UInt32, seq: UInt64) {
        self.source = source
        self.seq = seq
    }
}

/// A batch of records in arrival order.
///
/// Valid records carry an L2-normalised vector stored row-major in `vectors`;
/// rejected ones carry a reason and no row. Keeping rejections in the batch is
/// what lets the log keep every input's lines in input order.
public struct RecordBatch: Sendable {
    /// One record of the batch.
    public struct Entry: Sendable {
        public var origin: RecordOrigin
        /// The record's id as sent (may be empty for a rejected record whose id was unreadable).
        public var id: String
        /// The optional `score` field; `nil` when absent.
        public var score: Float?
        /// Set when the record cannot be decided.
        public var rejection: RejectReason?
        /// Row of this record in `vectors`, or -1 when rejected or a repeated id.
        public var row: Int32
        /// `--unique-ids`: the id was already handed to the engine (or is waiting for it
        /// in this batch), so the record passes through the engine, like a rejection,
        /// to be answered `drop`/`duplicate_id` in its input's order. It has no row.
        public var isDuplicateID: Bool

        public init(origin: RecordOrigin, id: String, score: Float?, rejection: RejectReason?, row: Int32,
                    isDuplicateID: Bool = false) {
            self.origin = origin
            self.id = id
            self.score = score
            self.rejection = rejection
            self.row = row
            self.isDuplicateID = isDuplicateID
        }
    }

    /// The dimension of every row in `vectors`.
    public let dimension: Int
    /// Records in arrival order.
    public private(set) var entries: [Entry] = []
    /// Normalised vectors of the valid entries, `rowCount × dimension`, row-major.
    public private(set) var vectors: [Float] = []
    /// Nearest centroids of the rows computed ahead of the engine (`assignAhead(with:)`).
    public private(set) var assignedAhead: AssignedRows?

    public init(dimension: Int, reservingCapacity capacity: Int = 0) {
        precondition(dimension > 0, "a batch needs a positive dimension")
        self.dimension = dimension
        entries.reserveCapacity(capacity)
        vectors.reserveCapacity(capacity * dimension)
    }

    /// Number of records (valid and rejected).
    public var count: Int { entries.count }
    /// Number of valid rows in `vectors`.
    public var rowCount: Int { vectors.count / dimension }
    public var isEmpty: Bool { entries.isEmpty }

    /// Appends a record whose vector is not yet normalised. The vector is
    /// validated (finite, non-zero) and normalised into the batch; a failing
    /// vector becomes a rejection instead, so callers never check twice.
    ///
    /// One path for every caller: a collection that is not contiguous is copied and
    /// goes through the contiguous form, so the norm is summed in the same order
    /// and an overflowing finite vector is rescaled, not rejected, whoever calls.
    ///
    /// - Returns: the rejection reason, or `nil` when the record was accepted.
    @discardableResult
    public mutating func append<C: Collection>(
        origin: RecordOrigin, id: String, score: Float?, vector: C
    ) -> RejectReason? where C.Element == Float {
        if let reason = vector.withContiguousStorageIfAvailable({ append(origin: origin, id: id, score: score, vector: $0) }) {
            return reason
        }
        return Array(vector).withUnsafeBufferPointer { append(origin: origin, id: id, score: score, vector: $0) }
    }

    /// The contiguous form of `append(origin:id:score:vector:)`, which every append ends in
    /// (what the decoders produce): one vectorised pass for the norm, one to scale.
    @discardableResult
    public mutating func append(
        origin: RecordOrigin, id: String, score: Float?, vector: UnsafeBufferPointer<Float>
    ) -> RejectReason? {
        guard vector.count == dimension else {
            appendRejection(origin: origin, id: id, score: score, reason: .badDimension)
            return .badDimension
        }
        // 16 lanes at a time (a serial sum is a 384-add dependency chain per record);
        // NaN and ±inf propagate into the sum.
        var sumOfSquares = VectorMath.dot(vector.baseAddress!, vector.baseAddress!, dimension)
        var scale: Float = 1
        if !sumOfSquares.isFinite {
            // Either a NaN/inf element, or finite elements so large their squares overflow.
            var largest: Float = 0
            for x in vector {
                guard x.isFinite else {
                    appendRejection(origin: origin, id: id, score: score, reason: .nonFinite)
                    return .nonFinite
                }
                largest = max(largest, abs(x))
            }
            scale = 1 / largest
            sumOfSquares = 0
            for x in vector { sumOfSquares += (x * scale) * (x * scale) }
        }
        guard sumOfSquares > 0 else {
            appendRejection(origin: origin, id: id, score: score, reason: .zeroVector)
            return .zeroVector
        }
        scale /= sumOfSquares.squareRoot()
        let row = Int32(rowCount)
        let start = vectors.count
        vectors.append(contentsOf: vector)
        vectors.withUnsafeMutableBufferPointer { all in
            for index in start..<all.count { all[index] *= scale }
        }
        entries.append(Entry(origin: origin, id: id, score: score, rejection: nil, row: row))
        return nil
    }

    /// Appends a record that cannot be decided.
    public mutating func appendRejection(origin: RecordOrigin, id: String, score: Float? = nil, reason: RejectReason) {
        entries.append(Entry(origin: origin, id: id, score: score, rejection: reason, row: -1))
    }

    /// Appends a record whose id was seen before (`--unique-ids`); its vector is not kept.
    public mutating func appendDuplicateID(origin: RecordOrigin, id: String, score: Float? = nil) {
        entries.append(Entry(origin: origin, id: id, score: score, rejection: nil, row: -1, isDuplicateID: true))
    }

    /// Entries that are repeated ids (`--unique-ids`).
    public var duplicateIDCount: Int {
        var count = 0
        for entry in entries where entry.isDuplicateID { count += 1 }
        return count
    }

    /// Appends every entry of `other` (same dimension), renumbering rows.
    public mutating func append(contentsOf other: RecordBatch) {
        precondition(other.dimension == dimension, "batches of different dimensions")
        let offset = Int32(rowCount)
        for var entry in other.entries {
            if entry.row >= 0 { entry.row += offset }
            entries.append(entry)
        }
        vectors.append(contentsOf: other.vectors)
    }

    /// Removes everything, keeping the allocated capacity for reuse.
    public mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        vectors.removeAll(keepingCapacity: true)
        assignedAhead = nil
    }

    /// Assigns every row with `kernel` now, so that the engine need not: the
    /// daemon does this on other threads while the engine decides earlier
    /// records. The engine uses the result only if `kernel` is still its kernel
    /// and the batch gained no rows since (see `AssignedRows.matches`).
    /// A kernel that `computesRunnerUps` (online updates) adds each row's runner-up bound,
    /// with which the engine corrects results of a kernel it has replaced since.
    public mutating func assignAhead(with kernel: NearestCentroid) {
        assignedAhead = AssignedRows(assigning: vectors, with: kernel)
    }
}

/// Nearest centroids of a batch's rows, and the kernel that computed them.
public struct AssignedRows: Sendable {
    let kernel: NearestCentroid
    let clusters: [Int32]
    let similarities: [Float]
    /// Per row, a bound on every other centroid's similarity (`NearestCentroid.assign(…runnerUps:)`), or nil.
    let runnerUps: [Float]?

    /// `kernel`'s assignment of `rows` (with runner-up bounds when the kernel computes them).
    init(assigning rows: [Float], with kernel: NearestCentroid) {
        self.kernel = kernel
        if kernel.computesRunnerUps {
            (clusters, similarities, runnerUps) = kernel.assignWithRunnerUps(rows: rows)
        } else {
            (clusters, similarities) = kernel.assign(rows: rows)
            runnerUps = nil
        }
    }

    /// Whether these are what `current` would compute for `rowCount` rows: the
    /// same kernel (not merely equal centroids: the same panel storage) and every row.
    func matches(_ current: NearestCentroid, rowCount: Int) -> Bool {
        clusters.count == rowCount && kernel.isSameKernel(as: current)
    }
}
