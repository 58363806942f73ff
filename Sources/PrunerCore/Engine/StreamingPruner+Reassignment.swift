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
//
// Margins make that cheap without changing a decision. An assignment also gives a
// runner-up bound u: every other centroid's computed similarity is ≤ u. For a unit
// x and centroids c → c', |x·c' − x·c| ≤ ‖c' − c‖, and a computed dot is within
// E = γ_d of the exact one, so after the centroids moved every other centroid's
// computed similarity is ≤ u + 2E + (the largest move of any other centroid since,
// `CentroidMovement`) — and for the float16 copy the queue holds, + ‖x̃ − x‖. If the
// record's own centroid, scored alone by the kernel's chain (`chainDots`), still
// beats that, it provably is what the full kernel would find, with that very
// similarity; only the others are re-scored in full. Batches assigned ahead by an
// older kernel (the daemon assigns on another thread while the engine decides) are
// corrected the same way at arrival.

/// What margin re-assignment did: records it kept on their concept with one dot product,
/// and records it re-scored against every centroid, at arrival (batches assigned ahead by an
/// older kernel) and when held records were re-assigned.
public struct MarginCounts: Sendable, Equatable {
    public var arrivalsKept = 0
    public var arrivalsRescored = 0
    public var heldKept = 0
    public var heldRescored = 0
    /// Arrivals corrected and re-scored lately (halved as they grow) and the arrival count of the
    /// latest correction: what `aheadPays` reads.
    var recentKept = 0, recentRescored = 0, lastCorrection = 0

    /// Arrivals between trials of ahead-assignment once it stopped paying.
    static let aheadRetry = 65536

    /// Whether assigning ahead pays: lately at least half the rows were corrected by margins,
    /// or it has not been tried for `aheadRetry` arrivals. Decisions are the same either way.
    func aheadPays(at arrivals: Int) -> Bool {
        recentKept >= recentRescored || arrivals - lastCorrection >= Self.aheadRetry
    }

    mutating func countAhead(kept: Int, rescored: Int, at arrivals: Int) {
        arrivalsKept += kept; arrivalsRescored += rescored
        recentKept += kept; recentRescored += rescored
        if recentKept + recentRescored > 8192 { recentKept /= 2; recentRescored /= 2 }
        lastCorrection = arrivals
    }
}

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
    /// `changed`: the centroids that differ (nil: any may).
    mutating func centroidsChanged(deferringDInter: Bool = false, changed: [Int]? = nil) {
        concepts.epoch &+= 1
        renewKernel(changed: changed)
        movement.began(concepts.epoch)
        // Deferrable only if every change since d_inter was computed is a small move.
        quota.dInterDeferrable = deferringDInter && (quota.dInterDeferrable || !quota.dInterStale)
        quota.dInterStale = true
    }

    /// Whether assignments carry runner-up bounds: online updates with a screened kernel
    /// (the float32 kernels keep no runner-up) and margins not turned off.
    var keepsMargins: Bool { nearest?.computesRunnerUps ?? false }

    /// Norms of rows and centroids are ≤ this (normalised in float32: within ~d·u of 1).
    static let normBound = 1.01

    /// E: how far one computed dot product can be from the exact one.
    var chainError: Double { NearestCentroid.chainErrorBound(dimension: dimension, norm: Self.normBound) }

    /// ‖x̃ − x‖ for a held record's float16 copy x̃ (widened, renormalised) of its row x:
    /// float16 rounds each entry within 2⁻¹¹ of it (2⁻²⁵ absolute below 2⁻¹⁴), so
    /// ‖f16(x) − x‖ ≤ ε = 2⁻¹¹‖x‖ + 2⁻²⁵√d; renormalising moves it by at most ε + |1 − ‖x‖|
    /// more, and the widening's own float32 arithmetic by ~(d/2 + 4)u.
    var halfRoundingBound: Double {
        let d = Double(dimension)
        let epsilon = 0x1p-11 * Self.normBound + 0x1p-25 * d.squareRoot()
        return (2 * epsilon + 4 * (d + 4) * 0x1p-24) * 1.01
    }

    /// The runner-up bound of an arrival row, made the held float16 copy's.
    func heldRunnerUp(_ runnerUp: Float) -> Float {
        guard runnerUp.isFinite else { return runnerUp }
        return Float(Double(runnerUp) + 2 * chainError + Self.normBound * halfRoundingBound).nextUp
    }

    /// Centroids a record's margin check scores alone, at most: beyond, a full re-scoring is cheaper.
    static let marginScoredCentroids = 12

    /// Rows (`rows`, contiguous, `count` of them) with their concepts and runner-up bounds at
    /// `epochs`, brought to the current centroids. Row i keeps concept j₁ when its similarity a
    /// to j₁ (the kernel's chain) beats every other centroid: those that moved so far since
    /// that a·(their move) could matter are scored alone (at most `marginScoredCentroids`), the
    /// rest are below u + 2E + 1.01·(the largest of their moves). Every other row is assigned
    /// in full by the current kernel.
    /// - Returns: per row its concept, similarity and runner-up bound at the current epoch, and how many were re-scored.
    mutating func assignByMargins(rows: UnsafePointer<Float>, count n: Int, clusters: [Int32], runnerUps: [Float],
                                  epochs: (Int) -> UInt32)
        -> (clusters: [Int32], similarities: [Float], runnerUps: [Float], rescored: Int) {
        let d = dimension, now = concepts.epoch, error = 2 * chainError, norm = Self.normBound
        var outClusters = clusters
        var similarities = [Float](repeating: 0, count: n)
        var outRunnerUps = [Float](repeating: .infinity, count: n)
        concepts.centroids.withUnsafeBufferPointer { c in
            clusters.withUnsafeBufferPointer { j in
                similarities.withUnsafeMutableBufferPointer { s in
                    NearestCentroid.chainDots(rows: rows, count: n, centroids: c.baseAddress!, clusters: j.baseAddress!,
                                              dimension: d, into: s.baseAddress!)
                }
            }
        }
        // Per row: the bound on the centroids not scored alone, and which are (pairs).
        var bounds = [Double?](repeating: nil, count: n)
        var pairRows = [Int32](), pairCentroids = [Int32]()
        for i in 0..<n {
            let u = runnerUps[i]
            guard u < .infinity,
                  let moved = movement.moves(since: epochs(i), to: now, top: Self.marginScoredCentroids + 2) else { continue }
            if u == -.infinity { bounds[i] = -.infinity; continue }   // no other centroid
            let a = Double(similarities[i]), base = Double(u) + error, own = clusters[i]
            var rest = moved.beyond, scored = 0, ok = true
            for (centroid, move) in moved.farthest where centroid != own {
                if base + norm * move < a { rest = move; break }
                scored += 1
                if scored > Self.marginScoredCentroids { ok = false; break }
                pairRows.append(Int32(i)); pairCentroids.append(centroid)
            }
            guard ok else {
                pairRows.removeLast(scored - 1); pairCentroids.removeLast(scored - 1)
                continue
            }
            bounds[i] = base + norm * rest
        }
        var pairScores = [Float](repeating: 0, count: pairRows.count)
        if !pairRows.isEmpty {
            concepts.centroids.withUnsafeBufferPointer { c in
                pairCentroids.withUnsafeBufferPointer { j in
                    pairRows.withUnsafeBufferPointer { r in
                        pairScores.withUnsafeMutableBufferPointer { s in
                            NearestCentroid.chainDots(rows: rows, count: r.count, centroids: c.baseAddress!,
                                                      clusters: j.baseAddress!, rowIndices: r.baseAddress!,
                                                      dimension: d, into: s.baseAddress!)
                        }
                    }
                }
            }
        }
        // The largest score alone per row (strictly below a, or the row is re-scored).
        var scoredMaximum = [Float](repeating: -.infinity, count: n)
        for (p, i) in pairRows.enumerated() { scoredMaximum[Int(i)] = max(scoredMaximum[Int(i)], pairScores[p]) }
        var failed = [Int]()
        for i in 0..<n {
            let a = similarities[i]
            if let bound = bounds[i], Double(a) > bound, a > scoredMaximum[i] {
                let rest: Float = bound == -.infinity ? -.infinity : Float(bound).nextUp
                outRunnerUps[i] = max(rest, scoredMaximum[i])
            } else {
                failed.append(i)
            }
        }
        guard !failed.isEmpty else { return (outClusters, similarities, outRunnerUps, 0) }
        var gathered = [Float](repeating: 0, count: failed.count * d)
        gathered.withUnsafeMutableBufferPointer { g in
            for (r, i) in failed.enumerated() { (g.baseAddress! + r * d).update(from: rows + i * d, count: d) }
        }
        let (a, s, u) = nearest!.assignWithRunnerUps(rows: gathered)
        for (r, i) in failed.enumerated() {
            outClusters[i] = a[r]; similarities[i] = s[r]; outRunnerUps[i] = u[r]
        }
        return (outClusters, similarities, outRunnerUps, failed.count)
    }

    /// A segment's rows assigned ahead by this engine's kernel of `epoch`, corrected to the
    /// current centroids by their margins (`assignByMargins`).
    mutating func correctedAhead(clusters: ArraySlice<Int32>, runnerUps: ArraySlice<Float>, assignedAt epoch: UInt32,
                                 rows first: Int, of batch: EngineRows)
        -> (clusters: [Int32], similarities: [Float], runnerUps: [Float]) {
        let n = clusters.count, d = dimension
        let result = batch.vectors.withUnsafeBufferPointer { v in
            assignByMargins(rows: v.baseAddress! + first * d, count: n, clusters: Array(clusters),
                            runnerUps: Array(runnerUps), epochs: { _ in epoch })
        }
        marginCounts.countAhead(kept: n - result.rescored, rescored: result.rescored, at: arrivals)
        return (result.clusters, result.similarities, result.runnerUps)
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
        let clusters: [Int32], similarities: [Float], runnerUps: [Float]
        if keepsMargins {
            let held = slots.map { queue.records[$0] }
            let result = rows.withUnsafeBufferPointer { r in
                assignByMargins(rows: r.baseAddress!, count: slots.count, clusters: held.map(\.cluster),
                                runnerUps: held.map(\.runnerUp), epochs: { held[$0].epoch })
            }
            (clusters, similarities, runnerUps) = (result.clusters, result.similarities, result.runnerUps)
            marginCounts.heldKept += slots.count - result.rescored
            marginCounts.heldRescored += result.rescored
        } else {
            (clusters, similarities) = kernel.assign(rows: rows)
            runnerUps = []
            marginCounts.heldRescored += slots.count
        }
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
            queue.records[slot].runnerUp = runnerUps.isEmpty ? .infinity : runnerUps[r]
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
