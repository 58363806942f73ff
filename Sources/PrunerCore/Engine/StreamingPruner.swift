// The streaming DBP engine: decides keep/drop per record as records arrive so
// that the kept set tracks what the offline recipe would keep on all the data.

/// Errors of engine construction and live reconfiguration.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case invalidOptions(String)
    case centroidShape(expectedClusters: Int, dimension: Int, valueCount: Int)
    case notLive(option: String)

    public var description: String {
        switch self {
        case .invalidOptions(let m): return m
        case .centroidShape(let k, let d, let n):
            return "centroids hold \(n) values, expected clusters × dimension = \(k) × \(d) = \(k * d)"
        case .notLive(let o): return "\(o) cannot change while the engine runs (restart to change it); keeping the running configuration"
        }
    }
}

/// Streaming Density-Based Pruning (a value type: copying it forks the stream state).
///
/// **Flow.** The first `warmup` valid records (or `lookahead`, when longer and
/// k-means is to run) are buffered; at the end of
/// warm-up the concepts are seeded (spherical k-means on the buffer, or given
/// centroids) and the buffered records enter the engine like any other. Each
/// arriving record is assigned to its nearest centroid and recorded in its
/// concept's [`ConceptStatistics`]; it is then held in a queue until
/// `lookahead` later valid records have arrived, and decided against its
/// concept's current threshold. `finish()` decides the held records exactly
/// like the offline recipe (the per-concept remainder of the quota goes to the
/// farthest/nearest/sampled held members; what concepts without held members
/// cannot take, or took beyond their quota, is shared out by DBP's projection).
///
/// **Quotas** are recomputed every `recomputeEvery` arrivals: DBP's complexity
/// and softmax over the current statistics, the [`QuotaProjection`] with
/// M = round(ρ·n_seen), keep rate r_j = N_j / n_j, corrected by the concept's
/// deficit so far (`r'_j = r_j + (r_j·decided_j − kept_j) / max(n_j, 64)`,
/// clamped to [0, 1]), and the threshold is the (1 − r'_j) quantile (`hard`) or
/// r'_j quantile (`easy`) of the concept's distance histogram.
///
/// **Online centroids** move toward their members (running mean, step 1/n_j,
/// renormalised), applied every 256 arrivals counted globally. A held record is
/// then assigned again when it is decided, to the centroids of that moment
/// (`StreamingPruner+Reassignment.swift`), and its statistics move with it.
///
/// **Determinism.** Every state change happens per record in arrival order or
/// at arrival-count boundaries, and the assignment kernel is batch-position
/// independent, so the decisions do not depend on how the stream is cut into
/// `submit` calls.
public struct StreamingPruner: Sendable {
    /// Arrivals between applications of accumulated online centroid moves.
    public static let moveEvery = 256
    /// Reservoir capacity R per concept.
    public static let reservoirCapacity = 32
    /// Smallest horizon over which a concept's keep deficit is repaid.
    var deficitHorizon = 64
    /// Multiplier of n_j in the deficit horizon (0 disables the feedback).
    var deficitGain = 1.0

    /// One record waiting for its decision.
    struct Held: Sendable {
        var entry: RecordBatch.Entry
        var cluster: Int32       // −1 for a rejection or a low-score record
        var distance: Float
        var kind: UInt8 = Held.normal
        /// For `fixedKeep`/`fixedDrop`: the retired concept's threshold the record was decided against.
        var fixedThreshold: Float = 0
        /// The `kernelEpoch` that `cluster` and `distance` come from (see `reassignHeld`).
        var epoch: UInt32 = 0
        static let normal: UInt8 = 0, duplicate: UInt8 = 1, lowScore: UInt8 = 2
        /// Members of a retired concept, decided at retirement and emitted in order.
        static let fixedKeep: UInt8 = 3, fixedDrop: UInt8 = 4
    }

    public private(set) var options: PruningOptions
    public let dimension: Int
    var centroidValues: [Float]
    var nearest: NearestCentroid?
    /// Threads for nearest-centroid assignment (`--threads`). Not part of the
    /// algorithm's state: decisions are identical for any value.
    public var assignmentThreads: Int = 1 {
        didSet { nearest?.threads = assignmentThreads }
    }
    /// The assignment kernel's shape (screen, register tile). Not part of the algorithm's
    /// state either: every choice assigns bit for bit alike, so it is a parameter the
    /// caller passes in (the command line reads the environment's overrides), never saved.
    public var kernel: KernelChoice = .fastest {
        didSet { if nearest != nil { nearest = makeNearest() } }
    }

    /// The kernel for assigning batches ahead of `submit` (`RecordBatch.assignAhead`),
    /// e.g. on other threads while the engine decides earlier records; nil while
    /// the centroids may change before the next batch arrives (warm-up, online
    /// updates, drift). The engine uses ahead results only when they came from its
    /// current kernel, so decisions are the same with or without them.
    public var aheadKernel: NearestCentroid? {
        guard !warming, !movesCentroids, options.spawnAfter == 0 else { return nil }
        return nearest
    }

    /// The assignment kernel for the current centroids.
    func makeNearest() -> NearestCentroid {
        var made = NearestCentroid(centroids: centroidValues, dimension: dimension, kernel: kernel)
        made.threads = assignmentThreads
        return made
    }
    var stats: [ConceptStatistics]
    var warming: Bool
    var warmupBuffer: RecordBatch
    var held: [Held] = []
    /// With online updates: each held entry's vector in float16, `dimension` values per entry of
    /// `held` (zeros for entries without one), so that it can be re-assigned when it is decided.
    var heldRows: [Float16] = []
    /// Counts the centroid changes after warm-up (online moves, spawns).
    var kernelEpoch: UInt32 = 0
    var heldHead = 0
    var heldValid = 0
    /// Valid records assigned so far (warm-up included): n_seen.
    var arrivals = 0
    var quotas: [Int]
    var rates: [Double]
    var thresholds: [Float]
    var dInter: [Double]
    var dInterStale = true
    /// Online moves since d_inter was computed, and nothing that must refresh it (a spawn, new `neighbors`).
    var dInterDeferrable = false
    /// Arrival count at the last d_inter computation.
    var dInterAt = 0
    /// With online moves d_inter is recomputed at most every 8 recomputes: it is a mean over 20
    /// neighbouring centroids, each moved by ~1/n_j per member, and the O(k²·d) Gram matrix was
    /// a fifth of `--update online`'s CPU at k = 500 when refreshed after every move.
    var dInterInterval: Int { 8 * options.recomputeEvery }
    var decided: [Int]
    var moveSums: [Float]
    var moveCounts: [Int]
    var reservoirRNG: Xoshiro256StarStar
    var keepRNG: Xoshiro256StarStar
    var totalSeen = 0
    var totalKept = 0
    var totalDropped = 0
    var rejected: [Int]          // indexed like RejectReason.allCases
    /// Near-duplicate memory per concept (empty when dedup is off).
    var dedup: [DedupMemory]
    var duplicateCount = 0
    var lowScoreCount = 0
    /// Valid non-duplicate records held per concept (a concept with held members is never retired).
    var heldPerConcept: [Int]
    /// Drift: arrival count of each concept's latest member.
    var lastArrival: [Int]
    /// Drift: distance above which a record is far (set at the end of warm-up; +∞ = drift off).
    var farThreshold: Float = .infinity
    /// Drift: pooled far records (a FIFO ring of capacity 4·spawnAfter).
    var pool: [Float] = []
    var poolNext = 0
    var spawned = 0
    /// Set once a concept was retired or statistics decayed: quotas then come from live statistics.
    var liveQuotas = false
    var decayRNG: Xoshiro256StarStar
    /// Whether centroids follow the stream: `update` online, or auto and the warm-up looked concept-ordered.
    public internal(set) var movesCentroids: Bool
    /// With `update` auto: the warm-up's order divergence (nil before the end of warm-up or without auto).
    public internal(set) var orderDivergence: Double?
    /// The bar `orderDivergence` was compared with (see `chooseCentroidUpdate`), for status and fidelity output.
    public internal(set) var orderDivergenceBar: Double?
    /// Cluster mode: the other shards' latest statistics, added to this engine's own in every
    /// recompute (`StreamingPruner+Cluster.swift`); nil for a daemon on its own.
    var remote: ShardStatistics?
    /// Cluster mode: the warm-up waits for centroids from the cluster instead of fitting its own.
    var waitsForCentroids = false

    /// - Parameters:
    ///   - centroids: optional `clusters × dimension` centroids (normalised here); without them k-means runs on the warm-up buffer.
    /// - Throws: [`EngineError`] on invalid options or a centroid matrix of the wrong shape.
    public init(options: PruningOptions, dimension: Int, centroids: [Float]? = nil) throws {
        if let m = options.validationError() { throw EngineError.invalidOptions(m) }
        guard dimension > 0 else { throw EngineError.invalidOptions("dimension must be positive, got \(dimension)") }
        let k = options.clusters
        if let centroids, centroids.count != k * dimension {
            throw EngineError.centroidShape(expectedClusters: k, dimension: dimension, valueCount: centroids.count)
        }
        self.options = options
        self.dimension = dimension
        var c = centroids ?? []
        if !c.isEmpty { VectorMath.normaliseRows(&c, dimension) }
        centroidValues = c
        stats = (0..<k).map { _ in ConceptStatistics(dimension: dimension, reservoirCapacity: Self.reservoirCapacity) }
        warming = true
        warmupBuffer = RecordBatch(dimension: dimension)
        quotas = [Int](repeating: 0, count: k)
        rates = [Double](repeating: options.keepRatio, count: k)
        thresholds = [Float](repeating: 0, count: k)
        dInter = [Double](repeating: 1, count: k)
        decided = [Int](repeating: 0, count: k)
        movesCentroids = options.update == .online
        moveSums = [Float](repeating: 0, count: movesCentroids ? k * dimension : 0)
        moveCounts = [Int](repeating: 0, count: k)
        reservoirRNG = Xoshiro256StarStar(seed: options.seed, stream: 3)
        keepRNG = Xoshiro256StarStar(seed: options.seed, stream: 4)
        rejected = [Int](repeating: 0, count: RejectReason.allCases.count)
        let sketch = SignSketch(dimension: dimension, seed: options.seed)
        dedup = (0..<k).map { _ in DedupMemory(sketch: sketch, capacity: options.dedupMemory) }
        heldPerConcept = [Int](repeating: 0, count: k)
        lastArrival = [Int](repeating: 0, count: k)
        decayRNG = Xoshiro256StarStar(seed: options.seed, stream: 6)
    }

    /// The current `clusters × dimension` centroids (empty while warming up without given centroids).
    public var centroids: [Float] { centroidValues }
    /// True until `warmup` valid records have arrived (or `finish()` was called).
    public var isWarmingUp: Bool { warming }
    /// Valid records buffered by the warm-up so far, and how many it waits for; nil once it is over.
    public var warmupProgress: (seen: Int, target: Int)? { warming ? (warmupBuffer.count, warmupTarget) : nil }
    /// Valid records the warm-up buffers: k-means sees every record that arrives
    /// before the first decision falls due (see `PruningOptions.clusteringWarmup`).
    var warmupTarget: Int { centroidValues.isEmpty ? max(options.clusteringWarmup, 1) : options.warmup }
    /// Number of concepts k.
    public var clusters: Int { options.clusters }

    // MARK: Submitting

    /// Takes a batch and returns the decisions that became due, in arrival order.
    ///
    /// During warm-up records are buffered and nothing is returned; the batch
    /// that completes warm-up returns the buffered records' decisions (those
    /// not held back by `lookahead`). Rejected entries get `Decision.reject`
    /// in their place in the order, and so do repeated ids (`--unique-ids`), which
    /// the engine's statistics do not count.
    public mutating func submit(_ batch: RecordBatch) -> DecidedRecords {
        precondition(batch.dimension == dimension, "batch dimension \(batch.dimension) ≠ engine dimension \(dimension)")
        var out = DecidedRecords()
        var index = 0
        totalSeen += batch.count - batch.duplicateIDCount
        let target = warmupTarget
        while warming {
            if warmupBuffer.rowCount >= target && !waitsForCentroids { endWarmup(into: &out); break }
            guard index < batch.count else { break }
            warmupBuffer.appendEntry(index, of: batch)
            index += 1
        }
        if !warming && index < batch.count {
            arrive(batch, from: index, into: &out)
        }
        return out
    }

    /// Ends the stream: decides everything still buffered or held.
    ///
    /// A stream shorter than warm-up is clustered and decided in full (concepts
    /// beyond the number of distinct rows stay empty). Held records are decided
    /// like the offline recipe: each concept keeps the remainder of its final
    /// quota among its held members.
    public mutating func finish() -> DecidedRecords {
        var out = DecidedRecords()
        if warming {
            if warmupBuffer.rowCount > 0 || !centroidValues.isEmpty {
                endWarmup(into: &out, holdAll: true)
            } else {
                for e in warmupBuffer.entries { emitRejection(e, into: &out) }
                warmupBuffer.removeAll()
                return out
            }
        }
        // Nothing held: leave quotas and thresholds as they are, so that an engine
        // checkpointed after finish() continues exactly like one that never stopped.
        guard heldHead < held.count else { return out }
        reassignHeld(from: heldHead, limit: .max)
        dInterDeferrable = false      // the exact decisions use the final centroids' d_inter
        recompute()
        decideHeldExactly(into: &out)
        return out
    }

    // MARK: Internals

    mutating func endWarmup(into out: inout DecidedRecords, holdAll: Bool = false) {
        warming = false
        let d = dimension
        if centroidValues.isEmpty {
            var fitRows = warmupBuffer.vectors
            if options.minScore != nil {
                // Low-score records are dropped before clustering: k-means does not see them.
                var kept = [Float]()
                for e in warmupBuffer.entries where e.row >= 0 && !isLowScore(e) {
                    kept.append(contentsOf: warmupBuffer.vectors[(Int(e.row) * d)..<(Int(e.row) * d + d)])
                }
                if !kept.isEmpty { fitRows = kept }
            }
            centroidValues = SphericalKMeans.fit(vectors: fitRows, dimension: d, k: options.clusters,
                                                 iterations: options.kmeansIterations, seed: options.seed, kernel: kernel)
        }
        nearest = makeNearest()
        dInterStale = true
        var buffer = warmupBuffer
        if options.update == .auto, let kernel = nearest {
            // Assigned once: the choice reads these concepts, and `arrive` below reuses them.
            buffer.assignAhead(with: kernel)
            chooseCentroidUpdate(concepts: buffer.assignedAhead!.clusters)
        }
        warmupBuffer = RecordBatch(dimension: d)
        // Warm-up records seeded the centroids: they update statistics but never move centroids.
        arrive(buffer, from: 0, into: &out, moving: false, deciding: false)
        if options.spawnAfter > 0 {
            var all = [UInt32](repeating: 0, count: ConceptStatistics.binCount)
            for s in stats { for b in 0..<all.count { all[b] &+= s.histogram[b] } }
            var total = ConceptStatistics(dimension: d, reservoirCapacity: 0)
            total.histogram = all
            total.count = Int(all.reduce(UInt64(0)) { $0 + UInt64($1) })
            farThreshold = total.count > 0 ? total.quantile(options.driftQuantile) : .infinity
        }
        recompute()
        if !holdAll { popDue(into: &out) }
    }

    /// Assigns, records and queues `batch.entries[start...]`, deciding whatever becomes due.
    mutating func arrive(_ batch: RecordBatch, from start: Int, into out: inout DecidedRecords,
                         moving: Bool = true, deciding: Bool = true) {
        let d = dimension
        let online = moving && movesCentroids
        let drifting = deciding && options.spawnAfter > 0 && farThreshold.isFinite
        var assignment = [Int32](), similarity = [Float]()
        var i = start
        while i < batch.count {
            // A segment ends where the centroids may change: at the next move boundary.
            let room = online || drifting ? Self.moveEvery - arrivals % Self.moveEvery : Int.max
            var end = i, valid = 0, firstRow = -1
            while end < batch.count && valid < room {
                let r = Int(batch.entries[end].row)
                if r >= 0 { if firstRow < 0 { firstRow = r }; valid += 1 }
                end += 1
            }
            if valid > 0, let ahead = batch.assignedAhead, ahead.matches(nearest!, rowCount: batch.rowCount) {
                assignment = Array(ahead.clusters[firstRow..<(firstRow + valid)])
                similarity = Array(ahead.similarities[firstRow..<(firstRow + valid)])
            } else if valid > 0 {
                assignment = [Int32](repeating: 0, count: valid)
                similarity = [Float](repeating: 0, count: valid)
                batch.vectors.withUnsafeBufferPointer { v in
                    let rows = UnsafeBufferPointer(rebasing: v[(firstRow * d)..<((firstRow + valid) * d)])
                    assignment.withUnsafeMutableBufferPointer { a in
                        similarity.withUnsafeMutableBufferPointer { s in
                            nearest!.assign(rows: rows, count: valid, into: a, similarities: s)
                        }
                    }
                }
            }
            // Near-duplicate verdicts for the segment's checked records, concepts shared out among threads.
            var duplicates = [Bool]()
            if options.dedupThreshold > 0 && valid > 0 {
                var concepts = [Int32](repeating: -1, count: valid)
                var v = 0
                for e in i..<end where batch.entries[e].row >= 0 {
                    if !isLowScore(batch.entries[e]) { concepts[v] = assignment[v] }
                    v += 1
                }
                batch.vectors.withUnsafeBufferPointer { vp in
                    duplicates = DedupMemory.check(rows: UnsafeBufferPointer(rebasing: vp[(firstRow * d)..<((firstRow + valid) * d)]),
                                                   concepts: concepts, memories: &dedup, centroids: centroidValues,
                                                   epsilon: options.dedupThreshold, threads: assignmentThreads)
                }
            }
            var v = 0
            for e in i..<end {
                let entry = batch.entries[e]
                guard entry.row >= 0 else {
                    hold(Held(entry: entry, cluster: -1, distance: 0), row: nil)
                    if deciding { popDue(into: &out) }
                    continue
                }
                let j = Int(assignment[v])
                let distance = 1 - similarity[v]
                v += 1
                if isLowScore(entry) {
                    hold(Held(entry: entry, cluster: -1, distance: 0, kind: Held.lowScore), row: nil)
                    if deciding { popDue(into: &out) }
                    continue
                }
                let rowStart = Int(entry.row) * d
                let duplicate = !duplicates.isEmpty && duplicates[v - 1]
                batch.vectors.withUnsafeBufferPointer { vp in
                    let row = UnsafeBufferPointer(rebasing: vp[rowStart..<(rowStart + d)])
                    if duplicate { return }
                    stats[j].add(distance: distance, vector: row, rng: &reservoirRNG)
                    if online {
                        for t in 0..<d { moveSums[j * d + t] += row[t] }
                    }
                    if drifting && distance > farThreshold { addToPool(row) }
                }
                if duplicate {
                    hold(Held(entry: entry, cluster: Int32(j), distance: distance, kind: Held.duplicate), row: nil)
                    if deciding { popDue(into: &out) }
                    continue
                }
                if online { moveCounts[j] += 1 }
                arrivals += 1
                lastArrival[j] = arrivals
                batch.vectors.withUnsafeBufferPointer { vp in
                    hold(Held(entry: entry, cluster: Int32(j), distance: distance, epoch: kernelEpoch),
                         row: UnsafeBufferPointer(rebasing: vp[rowStart..<(rowStart + d)]))
                }
                heldValid += 1
                heldPerConcept[j] += 1
                if online && arrivals % Self.moveEvery == 0 { applyMoves() }
                if drifting && arrivals % Self.moveEvery == 0 { spawnFromPool() }
                if deciding {
                    if arrivals % options.recomputeEvery == 0 {
                        if options.halfLife > 0 { decay() }
                        recompute()
                    }
                    popDue(into: &out)
                }
            }
            i = end
        }
    }

    /// True for a record dropped as `low_score`: a score below `--min-score` (records without a score pass).
    func isLowScore(_ entry: RecordBatch.Entry) -> Bool {
        guard let minScore = options.minScore, let score = entry.score else { return false }
        return score < minScore
    }

    /// Moves every centroid that received members to the running mean: c ← normalise(c + (S − m·c)/n_j).
    mutating func applyMoves() {
        let d = dimension
        var changed = false
        for j in 0..<options.clusters where moveCounts[j] > 0 {
            let m = Float(moveCounts[j]), n = Float(max(stats[j].count, moveCounts[j]))
            for t in 0..<d {
                let c = centroidValues[j * d + t]
                centroidValues[j * d + t] = c + (moveSums[j * d + t] - m * c) / n
                moveSums[j * d + t] = 0
            }
            var s: Float = 0
            for t in 0..<d { s += centroidValues[j * d + t] * centroidValues[j * d + t] }
            let inv = 1 / s.squareRoot()
            for t in 0..<d { centroidValues[j * d + t] *= inv }
            moveCounts[j] = 0
            changed = true
        }
        if changed { centroidsChanged(deferringDInter: true) }
    }

    /// Quotas, keep rates and thresholds from the current statistics.
    mutating func recompute() {
        let k = options.clusters
        guard !centroidValues.isEmpty else { return }
        if dInterStale && !(dInterDeferrable && arrivals - dInterAt < dInterInterval) {
            dInter = ConceptComplexity.dInter(centroids: centroidValues, dimension: dimension, neighbors: options.neighbors)
            dInterStale = false
            dInterDeferrable = false
            dInterAt = arrivals
        }
        // In a cluster the quotas are global: sizes, d_intra, the budget and the thresholds'
        // histograms are this shard's plus the others' (their latest snapshots).
        var sizes = stats.map(\.count)
        var dIntra = stats.map(\.meanDistance)
        var m = Int((options.keepRatio * Double(arrivals)).rounded())
        if let remote {
            for j in 0..<k where remote.concepts[j].count > 0 {
                sizes[j] += remote.concepts[j].count
                dIntra[j] = Double(stats[j].distanceSum &+ remote.concepts[j].distanceSum)
                    / ConceptStatistics.sumScale / Double(sizes[j])
            }
            m = Int((options.keepRatio * Double(arrivals + remote.arrivals)).rounded())
        }
        if liveQuotas {
            // Retired concepts or decayed counts: the budget is ρ of the live statistics plus
            // the global keep deficit so far, so the realised ratio still tracks ρ.
            let live = sizes.reduce(0, +)
            let deficit = options.keepRatio * Double(totalKept + totalDropped) - Double(totalKept)
            m = min(max(Int((options.keepRatio * Double(live) + deficit).rounded()), 0), live)
        }
        let summaries = ConceptComplexity.summaries(sizes: sizes, dIntra: dIntra, dInter: dInter,
                                                    total: m, options: options)
        for j in 0..<k {
            quotas[j] = summaries[j].quota
            let n = sizes[j]
            guard n > 0 else { rates[j] = 0; thresholds[j] = 0; continue }
            let r = Double(quotas[j]) / Double(n)
            // Each shard repays its own deficit at the global rate (over its own members):
            // every shard then tracks ρ, and so does their union, with no shard repaying another's.
            let deficit = r * Double(decided[j]) - Double(stats[j].kept)
            let rate = min(max(r + deficitGain * deficit / Double(max(stats[j].count, deficitHorizon)), 0), 1)
            rates[j] = rate
            // Thresholds are quantiles over every member so far, warm-up included, as the
            // offline recipe ranks all members together. (Warm-up members sit closer to
            // centroids fitted on them; leaving them out once later members existed
            // lowered the final-centroid overlap from 0.982 to 0.973 on the real data.)
            // Called directly (not from a closure over `self`, which copied the statistics per call).
            switch options.keep {
            case .hard:
                thresholds[j] = rate <= 0 ? .infinity : (rate >= 1 ? -.infinity
                    : quantile(1 - rate, of: j))
            case .easy:
                thresholds[j] = rate <= 0 ? -.infinity : (rate >= 1 ? .infinity
                    : quantile(rate, of: j))
            case .random: thresholds[j] = 0
            }
        }
    }

    /// Decides held records from the head while more than `lookahead` valid ones are held.
    mutating func popDue(into out: inout DecidedRecords) {
        while heldHead < held.count {
            let h = held[heldHead]
            if h.kind != Held.normal {
                emitFiltered(h, into: &out)
            } else if h.cluster < 0 {
                emitRejection(h.entry, into: &out)
            } else if heldValid > options.lookahead {
                if h.epoch != kernelEpoch && reassignsHeld {
                    reassignHeld(from: heldHead, limit: Self.reassignBlock)
                }
                decideByThreshold(held[heldHead], into: &out)
                heldValid -= 1
            } else {
                break
            }
            heldHead += 1
        }
        compactHeld()
    }

    mutating func compactHeld() {
        if heldHead == held.count {
            held.removeAll(keepingCapacity: true)
            heldRows.removeAll(keepingCapacity: true)
            heldHead = 0
        } else if heldHead > 4096 && heldHead * 2 > held.count {
            held.removeFirst(heldHead)
            if reassignsHeld { heldRows.removeFirst(heldHead * dimension) }
            heldHead = 0
        }
    }

    mutating func decideByThreshold(_ h: Held, into out: inout DecidedRecords) {
        let j = Int(h.cluster)
        let keep: Bool
        switch options.keep {
        case .hard: keep = h.distance >= thresholds[j]
        case .easy: keep = h.distance <= thresholds[j]
        case .random: keep = keepRNG.nextUnit() < rates[j]
        }
        record(h, keep: keep, threshold: options.keep == .random ? nil : thresholds[j], into: &out)
    }

    mutating func record(_ h: Held, keep: Bool, threshold: Float?, into out: inout DecidedRecords) {
        let j = Int(h.cluster)
        decided[j] += 1
        heldPerConcept[j] -= 1
        if keep { stats[j].kept += 1; totalKept += 1 } else { stats[j].dropped += 1; totalDropped += 1 }
        let reason: DecisionReason = options.keep == .random ? (keep ? .sampled : .notSampled) : (keep ? .withinQuota : .overQuota)
        out.entries.append(h.entry)
        out.decisions.append(Decision(verdict: keep ? .keep : .drop, reason: reason, cluster: h.cluster,
                                      distance: h.distance, threshold: threshold.flatMap { $0.isFinite ? $0 : nil }))
    }

    /// Emits a duplicate or low-score drop (neither enters the statistics).
    mutating func emitFiltered(_ h: Held, into out: inout DecidedRecords) {
        out.entries.append(h.entry)
        if h.kind == Held.fixedKeep || h.kind == Held.fixedDrop {
            let keep = h.kind == Held.fixedKeep
            heldValid -= 1
            if keep { totalKept += 1 } else { totalDropped += 1 }
            let reason: DecisionReason = options.keep == .random ? (keep ? .sampled : .notSampled) : (keep ? .withinQuota : .overQuota)
            out.decisions.append(Decision(verdict: keep ? .keep : .drop, reason: reason, cluster: h.cluster, distance: h.distance,
                                          threshold: options.keep == .random || !h.fixedThreshold.isFinite ? nil : h.fixedThreshold))
        } else if h.kind == Held.duplicate {
            duplicateCount += 1
            let t = thresholds[Int(h.cluster)]
            out.decisions.append(Decision(verdict: .drop, reason: .duplicate, cluster: h.cluster, distance: h.distance,
                                          threshold: options.keep == .random || !t.isFinite ? nil : t))
        } else {
            lowScoreCount += 1
            out.decisions.append(Decision(verdict: .drop, reason: .lowScore, cluster: nil, distance: nil, threshold: nil))
        }
    }

    /// Emits an entry without a vector: a rejection (counted per reason) or, with
    /// `--unique-ids`, a repeated id (counted by the daemon, not in the engine's statistics).
    mutating func emitRejection(_ entry: RecordBatch.Entry, into out: inout DecidedRecords) {
        let decision = Decision.passThrough(entry)
        if case .rejected(let reason) = decision.reason { rejected[RejectReason.allCases.firstIndex(of: reason)!] += 1 }
        out.entries.append(entry)
        out.decisions.append(decision)
    }

    /// The offline recipe on the held records: concept j keeps its quota's remainder `N_j − kept_j`,
    /// all concepts shifted alike so that the total is exactly M.
    mutating func decideHeldExactly(into out: inout DecidedRecords) {
        let k = options.clusters
        let pending = Array(held[heldHead...])
        var members = [[Int]](repeating: [], count: k)
        for (i, h) in pending.enumerated() where h.cluster >= 0 && h.kind == Held.normal { members[Int(h.cluster)].append(i) }
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
        let fixedKept = pending.reduce(0) { $0 + ($1.kind == Held.fixedKeep ? 1 : 0) }
        var budget = mTotal - totalKept - fixedKept
        let sizes = members.map(\.count)
        var wanted = (0..<k).map { j in liveQuotas ? rates[j] * Double(sizes[j]) : Double(quotas[j] - stats[j].kept) }
        var need = [Int](repeating: 0, count: k)
        let room = sizes.reduce(0, +)
        if remote != nil && options.keep == .random {
            wanted = (0..<k).map { j in rates[j] * Double(sizes[j]) }
        } else if remote != nil {
            // A cluster shard: quotas are the cluster's, kept counts its own. Each concept wants the
            // held members beyond the threshold of the cluster's statistics (where one daemon's exact
            // step would cut).
            wanted = (0..<k).map { j in
                Double(members[j].reduce(0) { n, i in
                    n + ((options.keep == .hard ? pending[i].distance >= thresholds[j] : pending[i].distance <= thresholds[j]) ? 1 : 0)
                })
            }
            // The budget: those members, plus what the shard's decisions so far kept short of ρ
            // of themselves (or minus what they kept beyond). Not ρ of everything the shard saw: a
            // shard's share of the cluster's quotas is not ρ of its records (the leader's warm-up
            // members sit closer to centroids fitted on them, so it keeps fewer).
            let decidedSoFar = totalKept + totalDropped
            let streamingDeficit = Int((options.keepRatio * Double(decidedSoFar)).rounded()) - totalKept
            budget = min(max(Int(wanted.reduce(0, +)) + streamingDeficit, 0), room)
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
            if h.kind != Held.normal { emitFiltered(h, into: &out) }
            else if h.cluster < 0 { emitRejection(h.entry, into: &out) }
            else { record(h, keep: keep[i], threshold: boundary[Int(h.cluster)] ?? thresholds[Int(h.cluster)], into: &out) }
        }
        held.removeAll(keepingCapacity: true)
        heldRows.removeAll(keepingCapacity: true)
        heldHead = 0
        heldValid = 0
    }

    // MARK: Live configuration

    /// Applies new options while running. `keepRatio`, `temperature`,
    /// `minPerCluster`, `neighbors`, `keep`, `recomputeEvery`, `lookahead`,
    /// `kmeansIterations`, `dedupThreshold`, `minScore`, `halfLife`, `spawnAfter`
    /// and `driftQuantile` change live (quotas are recomputed at once; `warmup`
    /// only matters while still warming up; a new drift quantile applies from the
    /// next warm-up, i.e. the restart); `clusters`, `seed`, `update` and
    /// `dedupMemory` (it sizes every concept's ring) cannot.
    /// - Throws: [`EngineError`]; the running configuration is kept on error.
    public mutating func reload(_ configured: PruningOptions) throws {
        var newOptions = configured
        // `update` auto accepts the engine's mode (an engine restored from a checkpoint adopts its choice).
        if newOptions.update == .auto { newOptions.update = options.update }
        if let m = newOptions.validationError() { throw EngineError.invalidOptions(m) }
        if newOptions.clusters != options.clusters { throw EngineError.notLive(option: "clusters") }
        if newOptions.seed != options.seed { throw EngineError.notLive(option: "seed") }
        if newOptions.update != options.update { throw EngineError.notLive(option: "update") }
        if newOptions.dedupMemory != options.dedupMemory { throw EngineError.notLive(option: "dedup-memory") }
        let neighborsChanged = newOptions.neighbors != options.neighbors
        options = newOptions
        if neighborsChanged { dInterStale = true; dInterDeferrable = false }
        if !warming { recompute() }
    }
}
