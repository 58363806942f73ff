// The concepts: their centroids and what the stream has taught about each.

/// The k concepts the engine decides against: centroids, per-concept statistics
/// and when each concept last gained a member. Owns checkpoint section `CONC`.
struct ConceptTable: Sendable {
    /// `clusters × dimension` unit centroids, row-major (empty while warming up without given ones).
    var centroids: [Float]
    /// Members, distances, histogram, kept/dropped and reservoir of each concept.
    var statistics: [ConceptStatistics]
    /// Drift: arrival count of each concept's latest member (the most stale is retired first).
    var lastArrival: [Int]
    /// Counts the centroid changes after warm-up (online moves, spawns): held records
    /// assigned under an older epoch are stale.
    var epoch: UInt32 = 0

    init(clusters k: Int, dimension d: Int, centroids: [Float]) {
        self.centroids = centroids
        statistics = (0..<k).map { _ in ConceptStatistics(dimension: d, reservoirCapacity: StreamingPruner.reservoirCapacity) }
        lastArrival = [Int](repeating: 0, count: k)
    }

    /// Replaces concept `j` by an empty one at `centroid` (a spawn retiring it).
    mutating func reset(_ j: Int, to centroid: [Float], dimension d: Int, at arrivals: Int) {
        for t in 0..<d { centroids[j * d + t] = centroid[t] }
        statistics[j] = ConceptStatistics(dimension: d, reservoirCapacity: StreamingPruner.reservoirCapacity)
        lastArrival[j] = arrivals
    }

    func write(to w: inout ByteWriter) {
        w.floats(centroids)
        w.int(statistics.count)
        for s in statistics {
            w.int(s.count); w.u64(s.distanceSum); w.u32s(s.histogram); w.int(s.kept); w.int(s.dropped); w.floats(s.reservoir)
        }
        w.ints(lastArrival)
        w.u32(epoch)
    }

    init(reading r: inout ByteReader, clusters k: Int, dimension d: Int) throws {
        centroids = try r.floats()
        try CheckpointError.require(centroids.isEmpty || centroids.count == k * d, "centroid count")
        try Self.requireUnitRows(centroids, dimension: d)
        statistics = try Self.readStatistics(&r, clusters: k, dimension: d)
        lastArrival = try r.ints()
        try CheckpointError.require(lastArrival.count == k, "concept arrival counts")
        epoch = try r.u32()
    }

    /// Checks restored centroids: every value finite and every row of norm at most
    /// `StreamingPruner.normBound` (an engine's rows are unit vectors, or zero), which the
    /// margins' bounds assume and which keeps every similarity, and so every distance, in range.
    static func requireUnitRows(_ centroids: [Float], dimension d: Int) throws {
        for j in 0..<(centroids.count / d) {
            let row = centroids[(j * d)..<(j * d + d)]
            let squares = row.reduce(0.0) { $0 + Double($1) * Double($1) }
            try CheckpointError.require(row.allSatisfy(\.isFinite) && squares <= StreamingPruner.normBound * StreamingPruner.normBound,
                                        "centroid \(j): not a unit vector (squared norm \(squares))")
        }
    }

    /// The statistics list as sections `CONC` (and version 4's payload) store it.
    static func readStatistics(_ r: inout ByteReader, clusters k: Int, dimension d: Int) throws -> [ConceptStatistics] {
        try CheckpointError.require(try r.int() == k, "concept count")
        return try (0..<k).map { j in
            var s = ConceptStatistics(dimension: d, reservoirCapacity: StreamingPruner.reservoirCapacity)
            s.count = try r.int(); s.distanceSum = try r.u64(); s.histogram = try r.u32s()
            s.kept = try r.int(); s.dropped = try r.int(); s.reservoir = try r.floats()
            try CheckpointError.require(s.count >= 0 && s.kept >= 0 && s.dropped >= 0
                                        && s.histogram.count == ConceptStatistics.binCount && s.reservoir.count % d == 0
                                        && s.reservoir.count <= StreamingPruner.reservoirCapacity * d, "statistics of concept \(j)")
            return s
        }
    }
}
