// `prunerd serve --cluster redis://HOST:PORT/NAME`: the daemon as one shard of a
// pruner shared through Redis (docs/scale-out.md, "Shared state").
import ArgumentParser
import PrunerConfig

/// Which cluster this daemon is a shard of, if any.
struct ClusterOptions: ParsableArguments, Sendable {
    @Option(name: .customLong(ServeOptions.cluster.name),
            help: ArgumentHelp("Be one shard of the pruner NAME whose shared state is in this Redis: the shards agree on one set of centroids (the first to fill its warm-up fits them; the others adopt them, holding their records until then), exchange their concept statistics every --sync-every seconds, and decide against the sum, so quotas, thresholds and the keep ratio are the cluster's. Centroids are frozen in cluster mode (--update online, --spawn-after and --half-life are refused). Redis away: decisions go on from the last global view plus this shard's own statistics.", valueName: "redis://HOST:PORT/NAME"))
    var cluster: String?

    @Option(name: .customLong(ServeOptions.shardID.name),
            help: ArgumentHelp("This shard's id in the cluster, unique among its shards (default: host name and pid, e.g. crawler-3:4242). Give a fixed id to a shard restarted from its state directory so that it takes its own place again.", valueName: "ID"))
    var shardID: String?

    @Option(name: .customLong(ServeOptions.syncEvery.name),
            help: ArgumentHelp("Seconds between a shard's syncs with the cluster (default 1): publish its statistics, read the others'. A shard that stops syncing leaves the global view after max(5, 5 × this) seconds.", valueName: "SECONDS"))
    var syncEvery: Double?

    /// What these options say, as command-line values of the option table.
    func record(into values: inout CommandLineValues) {
        values.set(ServeOptions.cluster, cluster)
        values.set(ServeOptions.shardID, shardID)
        values.set(ServeOptions.syncEvery, syncEvery)
    }
}
