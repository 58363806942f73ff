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
    mutating func hold(_ record: Held, row: UnsafeBufferPointer<Float>?) {
        held.append(record)
        guard reassignsHeld else { return }
        let start = heldRows.count, d = dimension
        heldRows.append(contentsOf: repeatElement(0, count: d))
        guard let row else { return }
        heldRows.withUnsafeMutableBufferPointer { rows in
            for t in 0..<d { rows[start + t] = Float16(row[t]) }
        }
    }

    /// The centroids changed (online moves, a spawn): a new kernel, and held records assigned
    /// before are stale. After small online moves d_inter may wait (see `dInterInterval`).
    mutating func centroidsChanged(deferringDInter: Bool = false) {
        nearest = makeNearest()
        // Deferrable only if every change since d_inter was computed is a small move.
        dInterDeferrable = deferringDInter && (dInterDeferrable || !dInterStale)
        dInterStale = true
        kernelEpoch &+= 1
    }

    /// Re-assigns up to `limit` stale undecided held records from index `start` on to the
    /// current centroids, moving their statistics (count, sum, histogram) to the new concept.
    ///
    /// Deterministic: it runs at arrival counts and queue positions only, never at batch cuts.
    mutating func reassignHeld(from start: Int, limit: Int) {
        guard reassignsHeld, let kernel = nearest, heldRows.count == held.count * dimension else { return }
        let d = dimension
        var slots = [Int]()
        var i = start
        while i < held.count && slots.count < limit {
            let h = held[i]
            if h.kind == Held.normal && h.cluster >= 0 && h.epoch != kernelEpoch { slots.append(i) }
            i += 1
        }
        guard !slots.isEmpty else { return }
        var rows = [Float](repeating: 0, count: slots.count * d)
        rows.withUnsafeMutableBufferPointer { out in
            heldRows.withUnsafeBufferPointer { half in
                for (r, slot) in slots.enumerated() {
                    Self.widen(half.baseAddress! + slot * d, into: out.baseAddress! + r * d, count: d)
                }
            }
        }
        let (clusters, similarities) = kernel.assign(rows: rows)
        for (r, slot) in slots.enumerated() {
            let old = Int(held[slot].cluster), new = Int(clusters[r])
            let distance = 1 - similarities[r]
            stats[old].remove(distance: held[slot].distance)
            stats[new].add(distance: distance, vector: nil, rng: &reservoirRNG)
            heldPerConcept[old] -= 1
            heldPerConcept[new] += 1
            held[slot].cluster = clusters[r]
            held[slot].distance = distance
            held[slot].epoch = kernelEpoch
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
