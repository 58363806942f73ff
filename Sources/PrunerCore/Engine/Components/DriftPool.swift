// Drift: the records far from every concept, pooled until a dense group forms.

/// A FIFO ring of the most recent far records and what spawning has done so far.
/// Owns checkpoint section `DRFT`.
struct DriftPool: Sendable {
    /// Pooled rows, row-major (at most `capacity` rows).
    var rows: [Float] = []
    /// The ring slot the next far record overwrites once full.
    var next = 0
    /// Distance above which a record is far (set at the end of warm-up; +∞ = drift off).
    var farThreshold: Float = .infinity
    /// Concepts spawned so far.
    var spawned = 0

    /// Adds a far record, overwriting the oldest when `capacity` rows are pooled.
    mutating func add(_ row: UnsafeBufferPointer<Float>, capacity: Int) {
        let d = row.count
        if rows.count < capacity * d {
            rows.append(contentsOf: row)
        } else {
            for t in 0..<d { rows[next * d + t] = row[t] }
            next = (next + 1) % capacity
        }
    }

    func write(to w: inout ByteWriter) {
        w.f32(farThreshold); w.floats(rows); w.int(next); w.int(spawned)
    }

    init() {}

    init(reading r: inout ByteReader, dimension d: Int) throws {
        farThreshold = try r.f32(); rows = try r.floats(); next = try r.int(); spawned = try r.int()
        try CheckpointError.require(rows.count % d == 0 && next >= 0, "drift pool")
    }
}
