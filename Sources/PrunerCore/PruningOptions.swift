// The knobs of Density-Based Pruning shared by the offline recipe and the
// streaming engine. Defaults follow the DBP paper where it gives one.

/// Which members of a concept are kept.
public enum KeepMode: String, Sendable, Codable, CaseIterable {
    /// Keep the members farthest from the centroid (the DBP paper's choice).
    case hard
    /// Keep the members nearest to the centroid (an ablation in the paper).
    case easy
    /// Keep a seeded random sample at the concept's quota.
    case random
}

/// What happens to centroids after warm-up in the streaming engine.
public enum CentroidUpdate: String, Sendable, Codable, CaseIterable {
    /// Centroids never move after warm-up: decisions are most faithful to the offline recipe on them.
    case frozen
    /// The winning centroid moves toward each record with step 1/n_j, then is renormalised.
    case online
    /// Chosen at the end of warm-up from the warm-up itself: `online` when its consecutive
    /// parts fall into different concepts (a crawl that emits one site at a time, where frozen
    /// centroids never reach the later sites), `frozen` otherwise (shuffled streams, where it
    /// is as faithful and faster). See `StreamingPruner.orderDivergence`.
    case auto
}

/// Options of Density-Based Pruning.
public struct PruningOptions: Sendable, Equatable {
    /// Fraction ρ of records to keep, 0 < ρ ≤ 1.
    public var keepRatio: Double = 0.3
    /// Number of concepts k.
    public var clusters: Int = 100
    /// Softmax temperature τ over complexities.
    public var temperature: Double = 0.1
    /// Number l of nearest other centroids averaged into d_inter (the paper uses 20).
    public var neighbors: Int = 20
    /// F in floor_j = min(max(1, ⌊F·M/k⌋), n_j − 1).
    public var minPerCluster: Double = 0
    /// Which members of a concept are kept.
    public var keep: KeepMode = .hard
    /// Seed of every random choice (k-means++ seeding, reservoirs, random keep).
    public var seed: UInt64 = 0
    /// Maximum Lloyd iterations of spherical k-means.
    public var kmeansIterations: Int = 40
    /// Streaming: valid records buffered before the concepts are seeded (k-means
    /// runs on them, or on `clusteringWarmup` of them: see there). The default is
    /// `defaultWarmup(clusters:)`, 300 records per concept, 30,000 at k = 100.
    public var warmup: Int = 30000
    /// The rule behind the default warm-up: 300 valid records per concept, so that
    /// each warm-up centroid is a mean of ~300 members (its standard error ~6% of the
    /// concept's spread, 1/√300). Memory while warming up: 4·d bytes per record
    /// (46 MB at k = 100, d = 384; 460 MB at k = 1,000).
    public static func defaultWarmup(clusters: Int) -> Int { 300 * min(max(clusters, 1), maxClusters) }
    /// The most concepts accepted. Each concept holds a 4,096-bin histogram (16 KiB) and
    /// a centroid before any record arrives (k = 100,000 is 1.6 GB of statistics); a
    /// mistyped k above it would exhaust memory (the allocation trapped) instead of
    /// being refused. The paper's recipe uses 10,000 concepts for 50M records.
    public static let maxClusters = 100_000
    /// The most records `--dedup-memory` and `--spawn-after` may keep in memory per concept
    /// (and in the drift pool, 4×): 2^20, beyond any machine's memory at k ≥ 100 and d = 384,
    /// and far from where sizes computed from them could overflow.
    public static let maxRememberedMembers = 1 << 20
    /// Records k-means sees when it fits the concepts: the warm-up, or the look-ahead
    /// when that is longer. No record is decided before `lookahead` later ones have
    /// arrived, so a warm-up shorter than the look-ahead would only cluster on part
    /// of what the engine holds anyway at its first decision; this changes when the
    /// first decision happens in no case.
    public var clusteringWarmup: Int { max(warmup, lookahead) }
    /// Streaming: records between quota and threshold recomputes.
    public var recomputeEvery: Int = 1000
    /// Streaming: centroid behaviour after warm-up.
    public var update: CentroidUpdate = .auto
    /// Streaming: after warm-up, valid records held back before they are decided
    /// (a decision delay). Statistics include held records, so each decision
    /// sees `lookahead` records of the future; `finish()` decides the held
    /// records exactly like the offline recipe. 0 decides every record on arrival.
    public var lookahead: Int = 20000
    /// Near-duplicate removal (SemDeDup within the concept): a record whose cosine
    /// similarity to an earlier record of its concept exceeds 1 − ε is dropped as
    /// `duplicate` and kept out of the statistics. 0 turns it off.
    public var dedupThreshold: Double = 0
    /// Streaming: vectors remembered per concept for the near-duplicate check (a ring
    /// of the most recent non-duplicate members). Memory ≤ k·N·(2d + 36) bytes (float16
    /// rows and 256-bit sketches); per record the check costs one sketch, a popcount
    /// compare per remembered member, and d flops per member whose sketch is near.
    /// 512 by default: recall ≥ 0.97 on the real data and the synthetic mixtures
    /// (1024: 0.9995 on the real data) at about two thirds of 1024's CPU cost.
    public var dedupMemory: Int = 512
    /// Records whose `score` is below this are dropped as `low_score` before
    /// clustering (records without a score pass). `nil`: no filter.
    public var minScore: Float? = nil
    /// Streaming: half-life in records of the concept statistics' exponential decay
    /// (counts, sums, histograms), so quotas follow the stream. 0: no decay.
    public var halfLife: Int = 0
    /// Streaming drift: far records (farther from their nearest centroid than the
    /// `driftQuantile` of warm-up distances) are pooled; once a dense group of this
    /// many has gathered, it becomes a new concept replacing the most stale one. 0: off.
    public var spawnAfter: Int = 0
    /// Streaming drift: the quantile of warm-up distances above which a record is "far".
    public var driftQuantile: Double = 0.95

    public init() {}
}
