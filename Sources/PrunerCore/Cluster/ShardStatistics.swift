// What one shard of a cluster knows that the others need: the mergeable part
// of its engine's statistics, enough for global quotas and thresholds.

/// The statistics a shard publishes so that shards merged decide like one engine
/// that saw all their records.
///
/// A streaming decision depends on each concept's size n_j (quotas), its mean
/// distance d_intra (complexity), its distance histogram (thresholds), and on
/// the number of records seen (the budget M = ρ·n). All of these add exactly
/// across shards; d_inter comes from the centroids, which are common. Reservoirs
/// and near-duplicate memories stay with their shard (they are samples, not
/// figures a quota reads).
public struct ShardStatistics: Sendable, Equatable {
    /// Per concept: count, fixed-point distance sum, histogram, kept and dropped (no reservoir).
    public var concepts: [ConceptStatistics]
    /// Valid records counted into the concepts, n_seen (the budget's base).
    public var arrivals: Int
    /// Records kept and dropped so far (for the global keep ratio in status).
    public var kept: Int
    public var dropped: Int

    /// Empty statistics of `clusters` concepts: the identity of `+`.
    public init(clusters: Int, dimension: Int) {
        concepts = (0..<clusters).map { _ in ConceptStatistics(dimension: dimension, reservoirCapacity: 0) }
        arrivals = 0
        kept = 0
        dropped = 0
    }

    /// Number of concepts k.
    public var clusters: Int { concepts.count }

    /// Adds another shard's statistics (same concepts) into these. Every field is an
    /// integer sum, so merging is exact, associative and commutative.
    public mutating func add(_ other: ShardStatistics) {
        precondition(other.clusters == clusters, "merging statistics of \(other.clusters) and \(clusters) concepts")
        for j in concepts.indices { concepts[j].merge(other.concepts[j]) }
        arrivals += other.arrivals
        kept += other.kept
        dropped += other.dropped
    }

    /// The sum of two shards' statistics.
    public static func + (a: ShardStatistics, b: ShardStatistics) -> ShardStatistics {
        var sum = a
        sum.add(b)
        return sum
    }
}

extension ConceptStatistics {
    /// The same concept without its reservoir: what crosses the network.
    func withoutReservoir() -> ConceptStatistics {
        var copy = ConceptStatistics(dimension: dimension, reservoirCapacity: 0)
        copy.count = count
        copy.distanceSum = distanceSum
        copy.histogram = histogram
        copy.kept = kept
        copy.dropped = dropped
        return copy
    }
}
