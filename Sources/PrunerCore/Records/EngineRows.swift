// What the engine is given: the valid records' normalised vectors and scores, in
// arrival order, and nothing else. Ids, origins and rejections stay with the
// caller (`ArrivalOrder`), which pairs the engine's decisions with them.

/// Valid records in arrival order, as the engine reads them: one row each.
///
/// Why its own type: the engine never reads a record's id, origin or rejection;
/// with only rows in hand it cannot, and its held state and checkpoint hold none.
public struct EngineRows: Sendable {
    /// The dimension of every row.
    public let dimension: Int
    /// `count × dimension` normalised vectors, row-major.
    public private(set) var vectors: [Float]
    /// Each row's `score` (nil when the record had none).
    public private(set) var scores: [Float?]
    /// Nearest centroids computed ahead of the engine (`RecordBatch.assignAhead(with:)`).
    public internal(set) var assignedAhead: AssignedRows?

    /// No rows.
    public init(dimension: Int) {
        self.dimension = dimension
        vectors = []
        scores = []
    }

    /// Rows from their parts (checkpoint restore, a batch's valid records).
    public init(dimension: Int, vectors: [Float], scores: [Float?], assignedAhead: AssignedRows? = nil) {
        precondition(vectors.count == scores.count * dimension, "rows and scores disagree")
        self.dimension = dimension
        self.vectors = vectors
        self.scores = scores
        self.assignedAhead = assignedAhead
    }

    /// Number of rows.
    public var count: Int { scores.count }
    public var isEmpty: Bool { scores.isEmpty }

    /// Appends row `index` of `other` bit-exactly (the warm-up buffers what it is given).
    mutating func append(row index: Int, of other: EngineRows) {
        let start = index * dimension
        vectors.append(contentsOf: other.vectors[start..<(start + dimension)])
        scores.append(other.scores[index])
    }

    /// Assigns every row with `kernel` now (see `RecordBatch.assignAhead(with:)`).
    mutating func assignAhead(with kernel: NearestCentroid) {
        assignedAhead = AssignedRows(assigning: vectors, with: kernel)
    }

    /// Removes every row, keeping the capacity.
    mutating func removeAll() {
        vectors.removeAll(keepingCapacity: true)
        scores.removeAll(keepingCapacity: true)
        assignedAhead = nil
    }
}

extension RecordBatch {
    /// The batch's valid records as the engine takes them (the vectors are shared, not copied).
    public var rows: EngineRows {
        var scores = [Float?]()
        scores.reserveCapacity(rowCount)
        for entry in entries where entry.row >= 0 { scores.append(entry.score) }
        return EngineRows(dimension: dimension, vectors: vectors, scores: scores, assignedAhead: assignedAhead)
    }
}
