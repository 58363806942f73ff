// The other shards' statistics carried forward while their snapshots cannot be read
// (Redis away): what a shard decides against instead of a view frozen at the outage.

extension ShardStatistics {
    /// These statistics (the other shards' at the last view) plus what they are estimated to
    /// have received and decided since: `scale` times this shard's own growth since the view
    /// (`own` − `base`), in members shared over the concepts as the members in the view are and
    /// over a concept's distance bins like this shard's members since `shapeBase` (its
    /// statistics at its first view of the epoch), in kept and dropped records shared over the
    /// concepts as the others' were.
    ///
    /// The shards draw from one stream, so the others received and decided records like this
    /// shard's, in proportion to their share of the arrivals at the last view (`scale`). Frozen
    /// instead, the others' statistics stopped growing while this shard's went on: the merged
    /// histogram kept the early members (the leader's warm-up, which sits closer to the
    /// centroids fitted on it) at their weight of the outage's start, the thresholds stayed low,
    /// every shard kept more than one daemon would, and each shard's end took that back from its
    /// few held records. Each part of the estimate comes from a sample without that bias: the
    /// concepts' mix from every member in the view, a concept's distances from this shard's
    /// members since its first view (after the leader's fit), the decisions' mix from the
    /// others' own. What was tried and measured is in docs/scale-out.md ("Measured"). A concept's
    /// growth is rounded once, cumulatively over its bins, and its count is the sum of its bins, so
    /// quantiles read a consistent histogram that grew by the estimate.
    public func carriedForward(own: ShardStatistics, since base: ShardStatistics, shapeBase: ShardStatistics,
                               scale: Double) -> ShardStatistics {
        precondition(own.clusters == clusters && base.clusters == clusters && shapeBase.clusters == clusters,
                     "carrying forward statistics of different concepts")
        guard scale > 0 else { return self }
        var out = self
        let grownTotal = scale * Double(max(zip(own.concepts, base.concepts).reduce(0) { $0 + $1.0.count - $1.1.count }, 0))
        let inView = zip(concepts, own.concepts).map { Double($0.count + $1.count) }
        let viewTotal = inView.reduce(0, +)
        if grownTotal > 0, viewTotal > 0 {
            for j in concepts.indices {
                let now = own.concepts[j], shape = shapeBase.concepts[j]
                let grown = grownTotal * inView[j] / viewTotal
                let shapeCount = now.count - shape.count
                guard grown > 0, shapeCount > 0, now.distanceSum >= shape.distanceSum else { continue }
                let ownBins = now.histogram, shapeBins = shape.histogram
                var bins = out.concepts[j].histogram
                var added = 0, shaped = 0
                for b in bins.indices where ownBins[b] > shapeBins[b] {
                    // Rounded cumulatively, so the bins add up to the growth: rounded one by one, a
                    // concept spread thin over many bins (under half a member each) grew by nothing.
                    shaped += Int(ownBins[b] - shapeBins[b])
                    let extra = Int((grown * Double(shaped) / Double(shapeCount)).rounded()) - added
                    bins[b] &+= UInt32(extra)
                    added += extra
                }
                let meanSum = Double(now.distanceSum - shape.distanceSum) / Double(shapeCount)
                out.concepts[j].histogram = bins
                out.concepts[j].count += added
                out.concepts[j].distanceSum &+= UInt64((meanSum * Double(added)).rounded())
            }
        }
        out.arrivals += Int((scale * Double(max(own.arrivals - base.arrivals, 0))).rounded())
        // Without their decisions the cluster's keep deficit froze at the outage's start and every
        // shard went on repaying it while one daemon's moved: the shards kept more than one daemon
        // on the outage's records and the end's budget was clipped at 0 (ratio up to 0.3035).
        let newKept = scale * Double(max(own.kept - base.kept, 0))
        let newDropped = scale * Double(max(own.dropped - base.dropped, 0))
        let keptBefore = Double(concepts.reduce(0) { $0 + $1.kept }), droppedBefore = Double(concepts.reduce(0) { $0 + $1.dropped })
        for j in concepts.indices {
            if keptBefore > 0 { out.concepts[j].kept += Int((newKept * Double(concepts[j].kept) / keptBefore).rounded()) }
            if droppedBefore > 0 { out.concepts[j].dropped += Int((newDropped * Double(concepts[j].dropped) / droppedBefore).rounded()) }
        }
        out.kept += Int(newKept.rounded())
        out.dropped += Int(newDropped.rounded())
        return out
    }
}
