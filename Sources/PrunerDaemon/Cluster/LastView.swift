// What a shard keeps of the last view it read, so that while Redis cannot be read it
// decides against the others' statistics carried forward, not frozen at the outage.
import PrunerCore

/// The other shards' statistics as last read, and this shard's own at that moment.
struct LastView {
    /// The sum of the others' latest statistics (what the engine was given).
    let others: ShardStatistics
    /// Arrivals of the others that were still streaming (not final): the part that grows.
    let streamingArrivals: Int
    /// This shard's own statistics when it took the view.
    let own: ShardStatistics

    /// The others now, estimated from what this shard received and decided since the view: the
    /// streaming peers are taken to have done as much as this shard did, in proportion to their
    /// share of the arrivals then, with members distributed like this shard's since `shapeBase`
    /// (`ShardStatistics.carriedForward`); final peers do not grow.
    func estimate(ownNow: ShardStatistics, shapeBase: ShardStatistics) -> ShardStatistics {
        guard own.arrivals > 0, streamingArrivals > 0 else { return others }
        return others.carriedForward(own: ownNow, since: own, shapeBase: shapeBase,
                                     scale: Double(streamingArrivals) / Double(own.arrivals))
    }
}
