// Reading checkpoints of versions 3 and 4: one flat payload, in this order —
// options, dimension, centroids, per-concept statistics, warm-up buffer, held
// records, quotas/rates/thresholds/d_inter, online accumulators, RNG states,
// counters, the retired deficit constants (horizon 64, gain 1: read and
// ignored), then (version 2 on) dedup memories, filters, drift and decay, and
// (version 4) `update` auto's choice, the centroid epoch and held vectors.
// A version-3 checkpoint has no held vectors: with online updates those records
// keep their arrival assignment.

extension StreamingPruner {
    /// Reads a version-3 or -4 payload after its options and dimension into the components.
    /// Ids, origins and rejection counts go to `entries` and `rejected` (the caller's `ArrivalOrder`).
    mutating func restoreVersion4(_ r: inout ByteReader, version: UInt32, entries: inout [RecordBatch.Entry],
                                  rejected: inout [RejectReason: Int]) throws {
        let k = options.clusters, d = dimension
        concepts.centroids = try r.floats()
        try CheckpointError.require(concepts.centroids.isEmpty || concepts.centroids.count == k * d, "centroid count")
        try ConceptTable.requireUnitRows(concepts.centroids, dimension: d)
        concepts.statistics = try ConceptTable.readStatistics(&r, clusters: k, dimension: d)
        warming = try r.bool()
        let warmEntries = try EntryCoding.readEntries(&r)
        let warmVectors = try r.floats()
        try CheckpointError.require(EntryCoding.rowsAreSequential(warmEntries)
                                    && warmVectors.count == warmEntries.filter { $0.row >= 0 }.count * d, "warm-up buffer")
        warmupBuffer = EngineRows(dimension: d, vectors: warmVectors, scores: warmEntries.filter { $0.row >= 0 }.map(\.score))
        entries = warmEntries
        // Held rejections (kind normal, no concept) are the caller's now: their entries only.
        let heldCount = try r.count(elementSize: 1)
        var rejections = [Bool]()
        for _ in 0..<heldCount {
            let entry = try EntryCoding.read(&r)
            let cluster = Int32(bitPattern: try r.u32()), distance = try r.f32()
            let code = try r.u8()
            guard let kind = HeldQueue.Kind(rawValue: code) else { throw CheckpointError.malformed("held record kind \(code)") }
            let record = HeldQueue.Record(cluster: cluster, distance: distance, kind: kind, fixedThreshold: try r.f32())
            entries.append(entry)
            rejections.append(kind == .normal && cluster < 0)
            if !rejections.last! { queue.records.append(record) }
        }
        try CheckpointError.require(queue.records.allSatisfy { $0.cluster < Int32(k) }, "held record cluster")
        queue.valid = try r.int(); arrivals = try r.int()
        quota.quotas = try r.ints(); quota.rates = try r.doubles(); quota.thresholds = try r.floats()
        quota.dInter = try r.doubles(); quota.dInterStale = try r.bool(); quota.decided = try r.ints()
        try CheckpointError.require([quota.quotas.count, quota.rates.count, quota.thresholds.count, quota.dInter.count,
                                     quota.decided.count].allSatisfy { $0 == k }, "per-concept arrays")
        try quota.requireValues()
        moves.sums = try r.floats(); moves.counts = try r.ints()
        try CheckpointError.require((moves.sums.isEmpty || moves.sums.count == k * d) && moves.counts.count == k, "online accumulators")
        reservoirRNG = try r.rng(); keepRNG = try r.rng()
        totalSeen = try r.int(); totalKept = try r.int(); totalDropped = try r.int()
        // Rejection counters by `allCases` position: the order those versions had, which the codes keep.
        let counts = try r.ints()
        try CheckpointError.require(counts.count == RejectReason.allCases.count, "rejection counters")
        for (position, count) in counts.enumerated() {
            guard let reason = RejectReason(checkpointCode: UInt8(position + 1)) else { continue }
            if count != 0 { rejected[reason] = count }
        }
        _ = try r.int(); _ = try r.f64()          // deficit horizon and gain: constants no option ever set
        try restoreDedup(&r)
        duplicateCount = try r.int(); lowScoreCount = try r.int()
        queue.perConcept = try r.ints(); concepts.lastArrival = try r.ints()
        try CheckpointError.require(queue.perConcept.count == k && concepts.lastArrival.count == k, "drift per-concept arrays")
        drift.farThreshold = try r.f32(); drift.rows = try r.floats(); drift.next = try r.int()
        try CheckpointError.require(drift.rows.count % d == 0, "drift pool")
        drift.spawned = try r.int(); quota.liveQuotas = try r.bool(); decayRNG = try r.rng()
        try CheckpointError.require(version >= 4 || options.update != .auto, "update auto in a version-3 checkpoint")
        if version >= 4 {
            movesCentroids = try r.bool()
            let divergence = try r.f64()
            orderDivergence = divergence.isNaN ? nil : divergence
            quota.dInterDeferrable = try r.bool(); quota.dInterAt = try r.int()
            concepts.epoch = try r.u32()
            let epochs = try r.u32s()
            try CheckpointError.require(epochs.count == heldCount, "held record epochs")
            let kept = (0..<heldCount).filter { !rejections[$0] }
            for (i, stored) in kept.enumerated() { queue.records[i].epoch = epochs[stored] }
            let rows = try r.halves()
            try CheckpointError.require(rows.count == (movesCentroids ? heldCount * d : 0), "held record vectors")
            queue.rows = rows.isEmpty ? [] : kept.flatMap { rows[($0 * d)..<($0 * d + d)] }
        } else if options.update == .online {
            for i in 0..<queue.records.count { queue.records[i].epoch = concepts.epoch }
            queue.rows = [Float16](repeating: 0, count: queue.records.count * d)
        }
    }
}
