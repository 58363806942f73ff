// A read-only view of the engine's state for status reports and the CLI.

/// The engine's totals and per-concept state at one moment.
public struct EngineSnapshot: Sendable, Equatable {
    /// One concept's state.
    public struct Concept: Sendable, Equatable {
        /// Members seen n_j.
        public var size: Int
        public var dIntra: Double
        public var dInter: Double
        public var complexity: Double
        /// Current target keep count N_j over the records seen.
        public var quota: Int
        /// Current distance threshold (`nil` in random mode or when none applies).
        public var threshold: Float?
        /// Effective keep rate r'_j the threshold aims at.
        public var targetKeepRate: Double
        /// Members kept so far.
        public var keptCount: Int
        /// Members decided so far (kept + dropped).
        public var decidedCount: Int
        /// keptCount / decidedCount (0 when none decided).
        public var realisedKeepRate: Double
    }

    /// Records submitted: the engine's rows, and the rejections its caller answered (`including(_:)`).
    public var seen: Int
    public var kept: Int
    public var dropped: Int
    /// Dropped as near-duplicates / by the score filter (not counted in `dropped`).
    public var duplicates: Int = 0
    public var lowScore: Int = 0
    /// Concepts spawned from the drift pool so far.
    public var spawned: Int = 0
    /// True when centroids follow the stream (`update` online, or auto on a concept-ordered warm-up).
    public var movesCentroids: Bool = false
    /// `update` auto's measure of the warm-up's concept order (nil without auto or before its end).
    public var orderDivergence: Double? = nil
    /// Rejections by reason (reasons with a zero count are omitted): the caller's (`including(_:)`),
    /// as the engine sees none.
    public var rejected: [RejectReason: Int]
    /// Records buffered (warm-up) or held (lookahead), not yet decided: the engine's rows, or
    /// every record waiting in the caller's order (`including(_:)`).
    public var pending: Int
    public var isWarmingUp: Bool
    public var concepts: [Concept]

    public init(seen: Int, kept: Int, dropped: Int, duplicates: Int = 0, lowScore: Int = 0, spawned: Int = 0,
                rejected: [RejectReason: Int], pending: Int, isWarmingUp: Bool, concepts: [Concept],
                movesCentroids: Bool = false, orderDivergence: Double? = nil) {
        self.seen = seen; self.kept = kept; self.dropped = dropped; self.duplicates = duplicates
        self.lowScore = lowScore; self.spawned = spawned; self.rejected = rejected; self.pending = pending
        self.isWarmingUp = isWarmingUp; self.concepts = concepts
        self.movesCentroids = movesCentroids; self.orderDivergence = orderDivergence
    }

    /// The snapshot with the records of `order` (its rejections and waiting records), which the engine does not see.
    public func including(_ order: ArrivalOrder) -> EngineSnapshot {
        var snapshot = self
        snapshot.rejected = order.rejected
        snapshot.seen += order.rejected.values.reduce(0, +)
        snapshot.pending = order.count
        return snapshot
    }

    /// kept / (kept + dropped).
    public var realisedKeepRatio: Double { kept + dropped > 0 ? Double(kept) / Double(kept + dropped) : 0 }
}

extension StreamingPruner {
    /// Totals and per-concept statistics, quotas and thresholds.
    public func snapshot() -> EngineSnapshot {
        let concepts = (0..<options.clusters).map { j -> EngineSnapshot.Concept in
            let s = stats[j]
            let dec = s.kept + s.dropped
            let threshold: Float? = (warming || options.keep == .random || !quota.thresholds[j].isFinite) ? nil : quota.thresholds[j]
            return EngineSnapshot.Concept(
                size: s.count, dIntra: s.meanDistance, dInter: quota.dInter[j], complexity: s.meanDistance * quota.dInter[j],
                quota: quota.quotas[j], threshold: threshold, targetKeepRate: quota.rates[j], keptCount: s.kept,
                decidedCount: dec, realisedKeepRate: dec > 0 ? Double(s.kept) / Double(dec) : 0)
        }
        let pending = warmupBuffer.count + queue.count
        return EngineSnapshot(seen: totalSeen, kept: totalKept, dropped: totalDropped,
                              duplicates: duplicateCount, lowScore: lowScoreCount, spawned: drift.spawned, rejected: [:],
                              pending: pending, isWarmingUp: warming, concepts: concepts,
                              movesCentroids: movesCentroids, orderDivergence: orderDivergence)
    }
}
