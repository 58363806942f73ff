// `--cluster redis://HOST:PORT/NAME`, `--shard-id`, `--sync-every`: which pruner
// this daemon is a shard of, and the Redis keys the shards share (docs/scale-out.md, "Keys").
#if canImport(Glibc)
import Glibc
#endif

/// How a daemon takes part in a cluster of shards that prune as one.
public struct ClusterConfiguration: Sendable {
    /// The Redis server; its path is the pruner's NAME.
    public var url: RedisURL
    /// This shard's id, unique in the cluster (default: host name and pid).
    public var shardID: String
    /// Seconds between syncs (publish own statistics, read the others').
    public var syncEvery: Double = ClusterConfiguration.defaultSyncEvery
    /// Seconds a shard's snapshot (and the leader's claim) outlive its last sync: a shard
    /// that stops publishing leaves the global view this long after its last sync.
    public var lease: Double { max(Self.minimumLease, 5 * syncEvery) }

    /// `--sync-every`'s default: quotas see the other shards at most a second late.
    public static let defaultSyncEvery = 1.0
    /// The shortest lease: a sync delayed by a busy machine must not drop a live shard.
    public static let minimumLease = 5.0

    /// - Throws: [`ClusterConfigurationError`] for a URL without a pruner name, a bad id or interval.
    public init(url: RedisURL, shardID: String?, syncEvery: Double?) throws(ClusterConfigurationError) {
        guard !url.name.isEmpty else {
            throw ClusterConfigurationError(reason: "--cluster \(url): the URL names no pruner (redis://HOST:PORT/NAME)")
        }
        guard !url.name.contains(":") && !url.name.contains("/") else {
            throw ClusterConfigurationError(reason: "--cluster \(url): the pruner name \(url.name) may not hold ':' or '/'")
        }
        self.url = url
        let id = shardID ?? Self.defaultShardID()
        guard !id.isEmpty, id.utf8.count <= 200, !id.contains(where: { $0.isWhitespace }) else {
            throw ClusterConfigurationError(reason: "--shard-id \"\(id)\": 1 to 200 bytes without spaces")
        }
        self.shardID = id
        if let syncEvery {
            guard syncEvery >= 0.05 && syncEvery <= 3600 else {
                throw ClusterConfigurationError(reason: "--sync-every must be between 0.05 and 3600 seconds, got \(syncEvery)")
            }
            self.syncEvery = syncEvery
        }
    }

    /// The host name and the process id, `host:pid`: unique on one machine and across machines.
    public static func defaultShardID() -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(cString: name) : "host"
        return "\(host):\(getpid())"
    }

    /// The keys of this pruner.
    var keys: ClusterKeys { ClusterKeys(name: url.name) }
}

/// A `--cluster`, `--shard-id` or `--sync-every` that cannot be used.
public struct ClusterConfigurationError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var description: String { reason }
}

/// Every key of pruner NAME lives under `prunerd:NAME:`.
struct ClusterKeys {
    let name: String
    var prefix: String { "prunerd:\(name):" }
    /// String: the shard id that fits epoch 1's centroids (`SET NX PX` lease).
    var leader: String { prefix + "leader" }
    /// String: the encoded `CentroidEpoch` every shard decides against (no expiry).
    var epoch: String { prefix + "epoch" }
    /// Set: ids of the shards that published (members whose hash expired are removed by readers).
    var shards: String { prefix + "shards" }
    /// Hash: `version`, `seq`, `epoch`, `snapshot` (an encoded `ShardSnapshot`), `updated_ms`; `PEXPIRE` lease.
    func shard(_ id: String) -> String { prefix + "shard:" + id }
}
