// Deciding held records: by threshold as they come due, exactly at the end.

extension StreamingPruner {
    /// Decides held records from the head while more than `lookahead` valid ones are held.
    mutating func popDue(into out: inout [Decision]) {
        while let h = queue.records.first {
            if h.kind != .normal {
                emitFiltered(h, into: &out)
            } else if queue.valid > lookaheadShare && !holdsForView {
                if h.epoch != concepts.epoch && reassignsHeld {
                    reassignHeld(from: 0, limit: Self.reassignBlock)
                }
                decideByThreshold(queue.records[0], into: &out)
                queue.valid -= 1
            } else {
                break
            }
            queue.removeFirst(dimension: dimension)
        }
    }

    /// Keep when the record is beyond its concept's threshold (`hard`), within it (`easy`), or sampled at its rate (`random`).
    mutating func decideByThreshold(_ h: HeldQueue.Record, into out: inout [Decision]) {
        let j = Int(h.cluster)
        let keep: Bool
        switch options.keep {
        case .hard: keep = h.distance >= quota.thresholds[j]
        case .easy: keep = h.distance <= quota.thresholds[j]
        case .random: keep = keepRNG.nextUnit() < quota.rates[j]
        }
        record(h, keep: keep, threshold: options.keep == .random ? nil : quota.thresholds[j], into: &out)
    }

    /// Counts a decision of a valid record and emits it.
    mutating func record(_ h: HeldQueue.Record, keep: Bool, threshold: Float?, into out: inout [Decision]) {
        let j = Int(h.cluster)
        quota.decided[j] += 1
        queue.perConcept[j] -= 1
        if keep { concepts.statistics[j].kept += 1; totalKept += 1 } else { concepts.statistics[j].dropped += 1; totalDropped += 1 }
        let reason: DecisionReason = options.keep == .random ? (keep ? .sampled : .notSampled) : (keep ? .withinQuota : .overQuota)
        out.append(Decision(verdict: keep ? .keep : .drop, reason: reason, cluster: h.cluster,
                                      distance: h.distance, threshold: threshold.flatMap { $0.isFinite ? $0 : nil }))
    }

    /// Emits a duplicate or low-score drop (neither enters the statistics), or a member of a
    /// retired concept decided at its retirement.
    mutating func emitFiltered(_ h: HeldQueue.Record, into out: inout [Decision]) {
        switch h.kind {
        case .fixedKeep, .fixedDrop:
            let keep = h.kind == .fixedKeep
            queue.valid -= 1
            if keep { totalKept += 1 } else { totalDropped += 1 }
            let reason: DecisionReason = options.keep == .random ? (keep ? .sampled : .notSampled) : (keep ? .withinQuota : .overQuota)
            out.append(Decision(verdict: keep ? .keep : .drop, reason: reason, cluster: h.cluster, distance: h.distance,
                                          threshold: options.keep == .random || !h.fixedThreshold.isFinite ? nil : h.fixedThreshold))
        case .duplicate:
            duplicateCount += 1
            let t = quota.thresholds[Int(h.cluster)]
            out.append(Decision(verdict: .drop, reason: .duplicate, cluster: h.cluster, distance: h.distance,
                                          threshold: options.keep == .random || !t.isFinite ? nil : t))
        case .lowScore, .normal:
            lowScoreCount += 1
            out.append(Decision(verdict: .drop, reason: .lowScore, cluster: nil, distance: nil, threshold: nil))
        }
    }

    /// The offline recipe on the held records: concept j keeps its quota's remainder `N_j − kept_j`,
    /// all concepts shifted alike so that the total is exactly M.
    mutating func decideHeldExactly(into out: inout [Decision]) {
        let k = options.clusters
        let pending = Array(queue.records)
        var members = [[Int]](repeating: [], count: k)
        for (i, h) in pending.enumerated() where h.cluster >= 0 && h.kind == .normal { members[Int(h.cluster)].append(i) }
        var keep = [Bool](repeating: false, count: pending.count)
        var boundary = [Float?](repeating: nil, count: k)
        // Concept j wants the remainder of its quota, N_j − kept_j (with live quotas, decay or retired
        // concepts, cumulative kept counts and quotas differ in scale: its current rate × its held
        // members). What the held records can keep is the total's remainder M − kept. The two differ
        // where a concept kept more or less than its final quota before the end (in concept order,
        // concepts complete early); the difference is shared out as DBP's projection shares out M:
        // one common shift λ, clipped to [0, held_j] (QuotaProjection.continuous), then rounded to
        // the exact total.
        let mTotal = Int((options.keepRatio * Double(arrivals)).rounded())
        let fixedKept = pending.reduce(0) { $0 + ($1.kind == .fixedKeep ? 1 : 0) }
        var budget = mTotal - totalKept - fixedKept
        let sizes = members.map(\.count)
        var wanted = (0..<k).map { j in quota.liveQuotas ? quota.rates[j] * Double(sizes[j]) : Double(quota.quotas[j] - stats[j].kept) }
        var need = [Int](repeating: 0, count: k)
        let room = sizes.reduce(0, +)
        if remote != nil && options.keep == .random {
            wanted = (0..<k).map { j in quota.rates[j] * Double(sizes[j]) }
        } else if remote != nil {
            // A cluster shard: quotas are the cluster's, kept counts its own. Each concept wants the
            // held members beyond the threshold of the cluster's statistics (where one daemon's exact
            // step would cut).
            wanted = (0..<k).map { j in
                let t = endThreshold(j)
                return Double(members[j].reduce(0) { n, i in
                    n + ((options.keep == .hard ? pending[i].distance >= t : pending[i].distance <= t) ? 1 : 0)
                })
            }
            // The budget: this shard's share of the cluster's budget M, less what it kept so far. Its
            // share is, per concept, its own members (decided and held) beyond the cluster's threshold
            // at the quota's rate q_j/n_j, read from its histogram: summed over shards that is q_j,
            // and over concepts M, so with the final views agreeing (the end's barrier) the cluster
            // keeps M to within half a record a shard, however stale the views were while streaming
            // (Redis away). A shard whose members sit closer to the centroids (the leader's warm-up)
            // gets the smaller share one daemon would give them. (The held members beyond the
            // threshold plus the streaming deficit, as before, drifted: each held member's own
            // sampling noise, and rates already repaying part of that deficit: 0.297–0.3075
            // through an outage, docs/scale-out.md.)
            let share = (0..<k).reduce(0.0) { total, j in
                let n = stats[j].count + (remote?.concepts[j].count ?? 0)
                guard n > 0, stats[j].count > 0 else { return total }
                let rate = min(max(Double(quota.quotas[j]) / Double(n), 0), 1)
                let own = Double(stats[j].count)
                switch options.keep {
                case .hard: return total + (rate >= 1 ? own : own - stats[j].members(atOrBelow: quantile(1 - rate, of: j)))
                case .easy: return total + (rate <= 0 ? 0 : stats[j].members(atOrBelow: quantile(rate, of: j)))
                case .random: return total + rate * own
                }
            }
            budget = Int(share.rounded()) - totalKept - fixedKept
            budget = min(max(budget, 0), room)
        }
        if budget >= room {
            need = sizes
        } else if budget > 0 {
            let x = QuotaProjection.continuous(ideal: wanted, lower: [Double](repeating: 0, count: k),
                                               upper: sizes.map(Double.init), total: Double(budget))
            need = QuotaProjection.roundPreservingTotal(x, lower: [Int](repeating: 0, count: k), upper: sizes, total: budget)
        }
        for j in 0..<k where need[j] > 0 {
            var list = members[j]
            switch options.keep {
            case .hard: list.sort { a, b in pending[a].distance != pending[b].distance ? pending[a].distance > pending[b].distance : a < b }
            case .easy: list.sort { a, b in pending[a].distance != pending[b].distance ? pending[a].distance < pending[b].distance : a < b }
            case .random:
                for i in 0..<need[j] { list.swapAt(i, i + keepRNG.nextInt(below: list.count - i)) }
            }
            for i in list.prefix(need[j]) { keep[i] = true }
            if options.keep != .random { boundary[j] = pending[list[need[j] - 1]].distance }
        }
        for (i, h) in pending.enumerated() {
            if h.kind != .normal { emitFiltered(h, into: &out) }
            else { record(h, keep: keep[i], threshold: boundary[Int(h.cluster)] ?? quota.thresholds[Int(h.cluster)], into: &out) }
        }
        queue.removeAll()
    }
}
