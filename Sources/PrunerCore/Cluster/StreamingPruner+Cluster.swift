// The engine as one shard of a cluster: what it publishes, how it takes in the
// others' statistics, and how it waits for and adopts common centroids.

extension StreamingPruner {
    /// This engine's own mergeable statistics (what a shard publishes each sync).
    public var shardStatistics: ShardStatistics {
        var own = ShardStatistics(clusters: options.clusters, dimension: dimension)
        own.concepts = stats.map { $0.withoutReservoir() }
        own.arrivals = arrivals
        own.kept = totalKept
        own.dropped = totalDropped
        return own
    }

    /// Concept j's distance quantile over every member the cluster has seen (this engine's alone without one).
    func quantile(_ q: Double, of j: Int) -> Float {
        guard let remote, remote.concepts[j].count > 0 else { return stats[j].quantile(q) }
        return stats[j].quantile(q, together: remote.concepts[j])
    }

    /// Valid records held before the oldest is decided: `lookahead`, or in a cluster this
    /// shard's share of it, in proportion to its arrivals among the cluster's (own and the
    /// view's). The cluster as a whole then holds `lookahead` records and decides each one
    /// when about `lookahead` later records have arrived anywhere, as one daemon on the whole
    /// stream does; N shards holding `lookahead` each decided every record N times later than
    /// it, and a daemon's kept set moves with its look-ahead alone (one daemon at 1,000 against
    /// 4,000 on the real set: 0.953 overlap; docs/scale-out.md, "Measured").
    var lookaheadShare: Int {
        guard let remote, remote.arrivals > 0, arrivals > 0 else { return options.lookahead }
        return Int((Double(options.lookahead) * Double(arrivals) / Double(arrivals + remote.arrivals)).rounded(.up))
    }

    /// Concept j's keep rate, q_j / n_j with the keep deficit so far repaid over its members.
    ///
    /// A cluster shard repays the cluster's deficit (every shard's decided and kept counts of
    /// j, its own live and the others' from the view) over the cluster's members, so that
    /// every shard applies one rate, hence one threshold, to concept j, as one daemon does to
    /// all its records; each record is decided by one shard, so the union repays the deficit
    /// once, as one daemon would. Repaying each shard's own deficit instead gave each shard
    /// its own threshold: the leader, whose warm-up members sit closer to the centroids fitted
    /// on them, had its thresholds lowered until it kept ρ of its records, and the others'
    /// raised, where one daemon keeps fewer of those members (docs/scale-out.md, "Measured").
    func repayingRate(_ j: Int, quota q: Int, members n: Int) -> Double {
        let rate = Double(q) / Double(n)
        guard let remote else {
            return QuotaPolicy.repaying(rate: rate, decided: quota.decided[j], kept: stats[j].kept, members: stats[j].count)
        }
        let others = remote.concepts[j]
        return QuotaPolicy.repaying(rate: rate, decided: quota.decided[j] + others.kept + others.dropped,
                                    kept: stats[j].kept + others.kept, members: n)
    }

    /// Concept j's threshold for a cluster shard's end (`decideHeldExactly`): the cluster's
    /// quota rate with this shard's own deficit repaid, not the cluster's. At its end a shard
    /// settles its own books (its share of M less what it kept); the others settle theirs at
    /// their ends, so their deficits are not repaid here. A peer that finished first publishes
    /// its decided counts, and with the cluster's deficit the thresholds of the shards still
    /// deciding moved with the order in which the shards passed the end's barrier (4 shards
    /// holding the whole 8k sample: overlap with one daemon 0.987 instead of 0.998).
    func endThreshold(_ j: Int) -> Float {
        let n = stats[j].count + (remote?.concepts[j].count ?? 0)
        guard n > 0 else { return quota.thresholds[j] }
        let rate = QuotaPolicy.repaying(rate: Double(quota.quotas[j]) / Double(n), decided: quota.decided[j],
                                        kept: stats[j].kept, members: stats[j].count)
        switch options.keep {
        case .hard: return rate <= 0 ? .infinity : (rate >= 1 ? -.infinity : quantile(1 - rate, of: j))
        case .easy: return rate <= 0 ? -.infinity : (rate >= 1 ? .infinity : quantile(rate, of: j))
        case .random: return 0
        }
    }

    /// The other shards' statistics in the last global view (nil when on its own or before the first sync).
    public var remoteStatistics: ShardStatistics? { remote }

    /// Takes the sum of the other shards' latest statistics: from now on quotas, the
    /// budget and thresholds come from them plus this engine's own live statistics,
    /// recomputed at once. nil returns to this engine's own statistics only.
    public mutating func adoptRemote(_ others: ShardStatistics?) {
        if let others {
            precondition(others.clusters == options.clusters, "remote statistics of \(others.clusters) concepts, engine has \(options.clusters)")
        }
        remote = others
        if !warming { recompute() }
    }

    /// Cluster mode: while true, the warm-up does not end by fitting its own centroids;
    /// the records wait until `adoptCentroids` (a follower) or until this is set back to
    /// false (the leader, whose next `submit` then fits them on its buffer as usual).
    public var waitsForClusterCentroids: Bool {
        get { waitsForCentroids }
        set { waitsForCentroids = newValue }
    }

    /// Cluster mode: the warm-up ends at the next `submit`, even an empty one, with the records
    /// buffered so far (a leader whose input ended before its warm-up filled).
    public var endsWarmupEarly: Bool {
        get { warmupEndsEarly }
        set { warmupEndsEarly = newValue }
    }

    /// Cluster mode: while true, records are held however many there are (nothing is decided
    /// by threshold); set when the shard leads or adopts an epoch and cleared once every
    /// present shard's statistics of that epoch are in its view, so that no record is decided
    /// on this shard's statistics alone (the leader's fit would otherwise decide the warm-up's
    /// overflow beyond the look-ahead at once). The next `submit`, even an empty one, decides
    /// what is due then. `finish` decides everything whatever its value.
    public var holdsForClusterView: Bool {
        get { holdsForView }
        set { holdsForView = newValue }
    }

    /// True while warming up with the warm-up's records all buffered: the moment a shard
    /// asks to lead the cluster's first epoch.
    public var warmupIsFull: Bool {
        warming && warmupBuffer.count >= warmupTarget
    }

    /// Ends the warm-up with the cluster's centroids (`clusters × dimension`), whatever
    /// has been buffered so far: the buffered records enter the statistics against them
    /// and wait, like records held by the look-ahead, for the next `submit` (which decides
    /// those beyond `lookahead`) or `finish`. Deciding nothing here is what lets a daemon
    /// adopt an epoch between engine jobs without a job of its own. An engine past its
    /// warm-up keeps its centroids.
    /// - Throws: [`EngineError.centroidShape`] for a matrix of the wrong shape; nothing changes then.
    public mutating func adoptCentroids(_ centroids: [Float]) throws(EngineError) {
        guard centroids.count == options.clusters * dimension else {
            throw .centroidShape(expectedClusters: options.clusters, dimension: dimension, valueCount: centroids.count)
        }
        guard warming else { return }
        // The leader's centroids are unit rows already: taken bit for bit, so that every shard
        // assigns with the same centroids (renormalising them would move the last bits).
        var c = centroids
        let d = dimension
        let unit = (0..<options.clusters).allSatisfy { j in
            abs(c[(j * d)..<(j * d + d)].reduce(0) { $0 + $1 * $1 } - 1) <= 1e-5
        }
        if !unit { VectorMath.normaliseRows(&c, dimension) }
        centroidValues = c
        waitsForCentroids = false
        var none = [Decision]()
        endWarmup(into: &none, holdAll: true)
    }
}

extension PruningOptions {
    /// Checks that these options can run as a cluster shard. Centroids are fitted once,
    /// by the leader, and frozen (docs/scale-out.md, "Leases and epochs"): online moves,
    /// spawned concepts and decayed statistics would make the shards' concepts diverge.
    /// - Throws: `ClusterOptionsError` naming the first setting a shard cannot run with.
    public func validateForCluster() throws(ClusterOptionsError) {
        if update == .online {
            throw ClusterOptionsError(setting: .update, value: "online", reason: "centroids are frozen in cluster mode (docs/scale-out.md)")
        }
        if spawnAfter > 0 { throw ClusterOptionsError(setting: .spawnAfter, value: nil, reason: "concepts are common and fixed in cluster mode") }
        if halfLife > 0 { throw ClusterOptionsError(setting: .halfLife, value: nil, reason: "statistics must add exactly across shards") }
    }
}

/// A setting a cluster shard cannot run with, by field (the CLI names the option), and why.
public struct ClusterOptionsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting.
    public let setting: PruningSetting
    /// The value refused, when only some values are (`update online`).
    public let value: String?
    /// Why a shard cannot run with it.
    public let reason: String

    /// The message with the setting named `name` (the CLI passes its flag and names `--cluster`).
    public func message(naming name: String, cluster: String) -> String {
        "\(name)\(value.map { " " + $0 } ?? "") is not supported with \(cluster): \(reason)"
    }

    /// The message in the core's names.
    public var description: String { message(naming: setting.rawValue, cluster: "a cluster") }
}

/// What one shard knows of the others: the latest snapshot of each, by sequence.
public struct ClusterView: Sendable {
    /// This shard's id (its own snapshots are never counted as another's).
    public let own: String
    /// The latest snapshot of every other shard that published one.
    public private(set) var latest: [String: ShardSnapshot] = [:]

    public init(own: String) { self.own = own }

    /// Keeps `snapshot` if it is another shard's and newer than what is known of it.
    /// Returns whether it was taken.
    @discardableResult
    public mutating func offer(_ snapshot: ShardSnapshot) -> Bool {
        guard snapshot.shard != own else { return false }
        if let known = latest[snapshot.shard], known.sequence >= snapshot.sequence { return false }
        latest[snapshot.shard] = snapshot
        return true
    }

    /// Forgets the shards not in `present` (their lease expired: they left the cluster).
    public mutating func retain(only present: Set<String>) {
        latest = latest.filter { present.contains($0.key) }
    }

    /// The sum of the other shards' latest statistics measured against `epoch`.
    public func others(epoch: UInt32, clusters: Int, dimension: Int) -> ShardStatistics {
        var sum = ShardStatistics(clusters: clusters, dimension: dimension)
        for snapshot in latest.values.sorted(by: { $0.shard < $1.shard })
        where snapshot.epoch == epoch && snapshot.statistics.clusters == clusters && snapshot.dimension == dimension {
            sum.add(snapshot.statistics)
        }
        return sum
    }
}
