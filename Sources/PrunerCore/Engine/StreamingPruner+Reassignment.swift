// Decision-time assignment: with online centroid updates a held record is
// assigned again, to the centroids of the moment it is decided.
//
// A record's concept and distance are first taken at arrival, for the
// statistics. With `--update online` the centroids then keep moving for the
// `lookahead` records it waits; in a concept-ordered crawl they move far (new
// sites pull them). Deciding it against its arrival-time concept is what the
// batch recipe on the final centroids would not do: on the real data in label
// order this was most of the gap to it (final-centroid overlap 0.906 → 0.935,
// end to end 0.729 → 0.745). So held records keep their vectors (float16) and are
// re-assigned, in blocks, when they reach the head of the queue, and all at once
// in `finish()`; their statistics move with them.

extension StreamingPruner {
    /// Stale held records re-assigned together (one kernel call) when the queue's head is stale.
    static let reassignBlock = 256

    /// True when held records keep their vectors: centroids move after arrival only with online updates.
    var reassignsHeld: Bool { movesCentroids }

    /// Queues a record for its decision, with its vector when held records are re-assigned.
    mutating func hold(_ record: HeldQueue.Record, row: UnsafeBufferPointer<Float>?) {
        queue.hold(record, row: row, keepingRows: reassignsHeld, dimension: dimension)
    }

    /// The centroids changed (online moves, a spawn): a new kernel, and held records assigned
    /// before are stale. After small online moves d_inter may wait (see `dInterInterval`).
    mutating func centroidsChanged(deferringDInter: Bool = false) {
        nearest = makeNearest()
        // Deferrable only if every change since d_inter was computed is a small move.
        quota.dInterDeferrable = deferringDInter && (quota.dInterDeferrable || !quota.dInterStale)
        quota.dInterStale = true
        concepts.epoch &+= 1
    }

    /// Re-assigns up to `limit` stale undecided held records from queue position `start` on to the
    /// current centroids, moving their statistics (count, sum, histogram) to the new concept.
    ///
    /// Deterministic: it runs at arrival counts and queue positions only, never at batch cuts.
    mutating func reassignHeld(from start: Int, limit: Int) {
        guard reassignsHeld, let kernel = nearest, queue.hasRows(dimension: dimension) else { return }
        let d = dimension
        var slots = [Int]()
        var i = start
        while i < queue.count && slots.count < limit {
            let h = queue.records[i]
            if h.kind == .normal && h.cluster >= 0 && h.epoch != concepts.epoch { slots.append(i) }
            i += 1
        }
        guard !slots.isEmpty else { return }
        var rows = [Float](repeating: 0, count: slots.count * d)
        let rowsStart = queue.rowsStart
        rows.withUnsafeMutableBufferPointer { out in
            queue.rows.withUnsafeBufferPointer { half in
                for (r, slot) in slots.enumerated() {
                    Self.widen(half.baseAddress! + (rowsStart + slot) * d, into: out.baseAddress! + r * d, count: d)
                }
            }
        }
        let (clusters, similarities) = kernel.assign(rows: rows)
        for (r, slot) in slots.enumerated() {
            let old = Int(queue.records[slot].cluster), new = Int(clusters[r])
            let distance = 1 - similarities[r]
            concepts.statistics[old].remove(distance: queue.records[slot].distance)
            concepts.statistics[new].add(distance: distance, vector: nil, rng: &reservoirRNG)
            queue.perConcept[old] -= 1
            queue.perConcept[new] += 1
            queue.records[slot].cluster = clusters[r]
            queue.records[slot].distance = distance
            queue.records[slot].epoch = concepts.epoch
        }
    }

    /// Widens a float16 row to float32, renormalised (float16 rounding leaves the norm ~1e-4 off 1).
    /// Eight lanes at a time: a scalar running sum is a serial chain of additions.
    static func widen(_ half: UnsafePointer<Float16>, into out: UnsafeMutablePointer<Float>, count d: Int) {
        var sums = SIMD8<Float>()
        var t = 0
        while t + 8 <= d {
            let x = SIMD8<Float>(UnsafeRawPointer(half + t).loadUnaligned(as: SIMD8<Float16>.self))
            UnsafeMutableRawPointer(out + t).storeBytes(of: x, as: SIMD8<Float>.self)
            sums += x * x
            t += 8
        }
        var sumOfSquares = sums.sum()
        while t < d { let x = Float(half[t]); out[t] = x; sumOfSquares += x * x; t += 1 }
        let scale = sumOfSquares > 0 ? 1 / sumOfSquares.squareRoot() : 0
        for t in 0..<d { out[t] *= scale }
    }
}
