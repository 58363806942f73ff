// Online centroid updates: members accumulate, centroids move every `moveEvery` arrivals.

/// The members each concept gained since the last move, summed. Owns checkpoint section `MOVE`.
struct OnlineMoves: Sendable {
    /// Per concept, the sum of its new members' vectors (`clusters × dimension`; empty when centroids are frozen).
    var sums: [Float]
    /// Per concept, how many members `sums` holds.
    var counts: [Int]

    init(clusters k: Int, dimension d: Int, moving: Bool) {
        sums = [Float](repeating: 0, count: moving ? k * d : 0)
        counts = [Int](repeating: 0, count: k)
    }

    /// Turns accumulation on (`update` auto chose online at the end of warm-up).
    mutating func start(clusters k: Int, dimension d: Int) {
        sums = [Float](repeating: 0, count: k * d)
    }

    mutating func add(_ row: UnsafeBufferPointer<Float>, to j: Int) {
        let d = row.count
        for t in 0..<d { sums[j * d + t] += row[t] }
    }

    /// Moves every centroid that received members to the running mean:
    /// c ← normalise(c + (S − m·c)/n_j), with n_j the concept's members so far.
    /// - Returns: the centroids moved, each with an upper bound of ‖c' − c‖ (empty: none moved).
    mutating func apply(to concepts: inout ConceptTable, dimension d: Int) -> [(centroid: Int, displacement: Double)] {
        var changed: [(centroid: Int, displacement: Double)] = []
        for j in 0..<counts.count where counts[j] > 0 {
            let m = Float(counts[j]), n = Float(max(concepts.statistics[j].count, counts[j]))
            let before = Array(concepts.centroids[(j * d)..<(j * d + d)])
            for t in 0..<d {
                let c = concepts.centroids[j * d + t]
                concepts.centroids[j * d + t] = c + (sums[j * d + t] - m * c) / n
                sums[j * d + t] = 0
            }
            var s: Float = 0
            for t in 0..<d { s += concepts.centroids[j * d + t] * concepts.centroids[j * d + t] }
            let inv = 1 / s.squareRoot()
            for t in 0..<d { concepts.centroids[j * d + t] *= inv }
            counts[j] = 0
            // Differences of floats are exact in Double; the sum's rounding is padded.
            var squares = 0.0
            for t in 0..<d { let e = Double(concepts.centroids[j * d + t]) - Double(before[t]); squares += e * e }
            changed.append((j, squares.squareRoot() * (1 + 1e-12) + 1e-15))
        }
        return changed
    }

    /// Forgets what concept `j` accumulated (it was retired).
    mutating func clear(_ j: Int, dimension d: Int) {
        if !sums.isEmpty { for t in 0..<d { sums[j * d + t] = 0 } }
        counts[j] = 0
    }

    func write(to w: inout ByteWriter) {
        w.floats(sums); w.ints(counts)
    }

    init(reading r: inout ByteReader, clusters k: Int, dimension d: Int) throws {
        sums = try r.floats(); counts = try r.ints()
        try CheckpointError.require((sums.isEmpty || sums.count == k * d) && counts.count == k, "online accumulators")
    }
}
