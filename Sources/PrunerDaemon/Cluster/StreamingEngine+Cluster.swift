// What a cluster shard reads from and hands to its streaming engine. Called on the
// loop thread only while no engine job runs (the daemon's `whenWorkerIdle`), like
// status reads: libuv's work queue orders those accesses against the jobs.
import PrunerCore

extension StreamingEngine {
    /// Where the engine stands, as the cluster needs it.
    struct ClusterState {
        /// Still buffering its warm-up (no centroids yet).
        var warming: Bool
        /// The warm-up has all its records: the moment to ask to lead.
        var warmupFull: Bool
        /// The centroids once warm-up is over.
        var centroids: [Float]
        var dimension: Int?
    }

    var clusterState: ClusterState {
        guard let pruner else { return ClusterState(warming: true, warmupFull: false, centroids: [], dimension: nil) }
        return ClusterState(warming: pruner.isWarmingUp, warmupFull: pruner.warmupIsFull,
                            centroids: pruner.isWarmingUp ? [] : pruner.centroids, dimension: pruner.dimension)
    }

    /// The engine's own statistics to publish; nil before it has centroids.
    var clusterStatistics: ShardStatistics? {
        guard let pruner, !pruner.isWarmingUp else { return nil }
        return pruner.shardStatistics
    }

    /// This shard leads: its warm-up ends in the next job (k-means on what it buffered, as a lone
    /// daemon's at the end of its warm-up), even if the warm-up is not full: its input may be over.
    func leadCluster() {
        waitsForClusterCentroids = false
        pruner?.waitsForClusterCentroids = false
        pruner?.endsWarmupEarly = true
    }

    /// Adopts the cluster's epoch; an engine without a record yet is made from it.
    func adoptCluster(_ epoch: CentroidEpoch) throws {
        waitsForClusterCentroids = false
        if pruner == nil {
            pruner = try StreamingPruner(options: options, dimension: epoch.dimension)
        }
        guard pruner!.dimension == epoch.dimension else {
            throw ReloadError(reason: "the cluster's centroids have dimension \(epoch.dimension), this shard's records \(pruner!.dimension)")
        }
        try pruner!.adoptCentroids(epoch.centroids)
    }

    /// Holds every record (decides none by threshold) until the cluster's view is complete.
    func holdForClusterView(_ holds: Bool) {
        pruner?.holdsForClusterView = holds
    }

    /// The other shards' statistics, from now on part of every recompute.
    func adoptClusterRemote(_ others: ShardStatistics?) {
        pruner?.adoptRemote(others)
    }

    /// The live statistics of the whole cluster as this shard sees it (own + others'), for status.
    var clusterGlobalTotals: (arrivals: Int, kept: Int, dropped: Int)? {
        guard let pruner, !pruner.isWarmingUp else { return nil }
        let own = pruner.shardStatistics
        let others = pruner.remoteStatistics
        return (own.arrivals + (others?.arrivals ?? 0), own.kept + (others?.kept ?? 0), own.dropped + (others?.dropped ?? 0))
    }
}
