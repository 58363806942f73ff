// The streaming DBP engine: decides keep/drop per record as records arrive so
// that the kept set tracks what the offline recipe would keep on all the data.
//
// The state lives in named components (Components/), each with its own checkpoint
// section: the concept table, the quota policy, the held queue, online moves, the
// drift pool and the dedup memories. This file is the flow between them: warm-up,
// `arrive` (the steps one record takes), quotas, and `finish`. Deciding held
// records is in StreamingPruner+Deciding.swift.

/// Errors of engine construction and live reconfiguration.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    /// A value out of range (the setting named by field: the caller maps it to its option).
    case invalidOptions(PruningOptionsError)
    /// Records of no dimension.
    case dimension(Int)
    /// Given centroids that are not `clusters × dimension` values.
    case centroidShape(expectedClusters: Int, dimension: Int, valueCount: Int)
    /// A setting that sizes or seeds the running state changed on reload.
    case notLive(PruningSetting)

    /// The message with settings named by `name` (the CLI passes its option names).
    public func message(naming name: (PruningSetting) -> String) -> String {
        switch self {
        case .invalidOptions(let error): return error.message(naming: name(error.setting))
        case .dimension(let d): return "dimension must be positive, got \(d)"
        case .centroidShape(let k, let d, let n):
            return "centroids hold \(n) values, expected clusters × dimension = \(k) × \(d) = \(k * d)"
        case .notLive(let setting):
            return "\(name(setting)) cannot change while the engine runs (restart to change it); keeping the running configuration"
        }
    }

    /// The message in the core's names.
    public var description: String { message(naming: \.rawValue) }
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

    public private(set) var options: PruningOptions
    public let dimension: Int

    // MARK: Components (each owns its state and its checkpoint section)

    /// Centroids, per-concept statistics, last arrivals, the centroid epoch.
    var concepts: ConceptTable
    /// Quotas, keep rates, thresholds, d_inter.
    var quota: QuotaPolicy
    /// Records waiting for their decision.
    var queue: HeldQueue
    /// Online centroid updates accumulated since the last move.
    var moves: OnlineMoves
    /// Far records pooled for spawning.
    var drift = DriftPool()
    /// Near-duplicate memory per concept (empty rings when dedup is off).
    var dedup: [DedupMemory]
    /// How far centroids moved since recent epochs, and which kernel assigns with which
    /// (margin re-assignment; not checkpointed, see `CentroidMovement`).
    var movement: CentroidMovement

    // MARK: The stream's own state

    var warming: Bool
    var warmupBuffer: EngineRows
    /// Valid records assigned so far (warm-up included): n_seen.
    var arrivals = 0
    /// Rows submitted.
    var totalSeen = 0
    var totalKept = 0
    var totalDropped = 0
    var duplicateCount = 0
    var lowScoreCount = 0
    var reservoirRNG: Xoshiro256StarStar
    var keepRNG: Xoshiro256StarStar
    var decayRNG: Xoshiro256StarStar
    /// Whether centroids follow the stream: `update` online, or auto and the warm-up looked concept-ordered.
    public internal(set) var movesCentroids: Bool
    /// With `update` auto: the warm-up's order divergence (nil before the end of warm-up or without auto).
    public internal(set) var orderDivergence: Double?
    /// What the warm-up's k-means did (nil before the warm-up's end, with given centroids, or after a restore).
    public internal(set) var warmupFit: SphericalKMeans.FitSummary?
    /// The bar `orderDivergence` was compared with (see `chooseCentroidUpdate`), for status and fidelity output.
    public internal(set) var orderDivergenceBar: Double?
    /// Cluster mode: the other shards' latest statistics, added to this engine's own in every
    /// recompute (`StreamingPruner+Cluster.swift`); nil for a daemon on its own.
    var remote: ShardStatistics?
    /// Cluster mode: the warm-up waits for centroids from the cluster instead of fitting its own.
    var waitsForCentroids = false
    /// Cluster mode: the leader's warm-up ends at the next `submit` with what it has buffered
    /// (its input ended before the warm-up filled).
    var warmupEndsEarly = false
    /// Cluster mode: nothing is decided by threshold, beyond the look-ahead too, until the
    /// other shards' statistics of the epoch are in (`StreamingPruner+Cluster.swift`).
    var holdsForView = false

    // MARK: Parameters (not state: decisions are identical for any value)

    /// The assignment kernel for the current centroids (derived from `concepts.centroids`).
    var nearest: NearestCentroid?
    /// Threads for nearest-centroid assignment (`--threads`).
    public var assignmentThreads: Int = 1 {
        didSet { nearest?.threads = assignmentThreads }
    }
    /// The assignment kernel's shape (screen, register tile): every choice assigns bit for
    /// bit alike, so it is a parameter the caller passes in (the command line reads the
    /// environment's overrides), never saved.
    public var kernel: KernelChoice = .fastest {
        didSet { if nearest != nil { renewKernel() } }
    }

    /// Whether held records keep margins, so that re-assignment re-scores only those a
    /// centroid's move could have taken (`StreamingPruner+Reassignment.swift`). Decisions are
    /// the same with and without; off, every stale record is assigned in full (tests compare).
    var usesMargins = true {
        didSet { if nearest != nil { renewKernel() } }
    }
    /// How many records margins kept on their concept and how many were re-scored in full.
    public internal(set) var marginCounts = MarginCounts()

    /// The kernel for assigning batches ahead of `submit` (`RecordBatch.assignAhead`),
    /// e.g. on other threads while the engine decides earlier records; nil while
    /// the centroids may change before the next batch arrives (warm-up, online
    /// updates, drift). The engine uses ahead results only when they came from its
    /// current kernel, so decisions are the same with or without them.
    ///
    /// With online updates and a screened kernel the kernel of the moment is offered
    /// too: it adds runner-up bounds, with which the engine corrects what its centroids
    /// have moved since (`StreamingPruner+Reassignment.swift`) — while that corrects at least
    /// half the rows (`MarginCounts.aheadPays`); where centroids move too far (a crawl whose
    /// concepts the centroids do not fit) it would only assign every row twice.
    public var aheadKernel: NearestCentroid? {
        guard !warming else { return nil }
        if keepsMargins { return marginCounts.aheadPays(at: arrivals) ? nearest : nil }
        guard !movesCentroids, options.spawnAfter == 0 else { return nil }
        return nearest
    }

    /// A new kernel for the current centroids, known to `movement` by their epoch. With
    /// `changed`, only those centroids differ from the current kernel's: it is updated, not rebuilt.
    mutating func renewKernel(changed: [Int]? = nil) {
        var made: NearestCentroid
        if let changed, let current = nearest {
            made = current.updating(centroids: concepts.centroids, changed: changed)
            made.computesRunnerUps = movesCentroids && usesMargins && made.isScreened
        } else {
            made = makeNearest()
        }
        nearest = made
        movement.register(made, epoch: concepts.epoch)
    }

    /// The assignment kernel for the current centroids.
    func makeNearest() -> NearestCentroid {
        var made = NearestCentroid(centroids: concepts.centroids, dimension: dimension, kernel: kernel)
        made.threads = assignmentThreads
        made.computesRunnerUps = movesCentroids && usesMargins && made.isScreened
        return made
    }

    /// The centroids under the name the engine's extensions use.
    var centroidValues: [Float] {
        get { concepts.centroids }
        _modify { yield &concepts.centroids }
    }
    /// The per-concept statistics under the name the engine's extensions use.
    var stats: [ConceptStatistics] {
        get { concepts.statistics }
        _modify { yield &concepts.statistics }
    }

    /// With online moves d_inter is recomputed at most every 8 recomputes: it is a mean over 20
    /// neighbouring centroids, each moved by ~1/n_j per member, and the O(k²·d) Gram matrix was
    /// a fifth of `--update online`'s CPU at k = 500 when refreshed after every move.
    var dInterInterval: Int { 8 * options.recomputeEvery }

    /// - Parameters:
    ///   - centroids: optional `clusters × dimension` centroids (normalised here); without them k-means runs on the warm-up buffer.
    /// - Throws: [`EngineError`] on invalid options or a centroid matrix of the wrong shape.
    public init(options: PruningOptions, dimension: Int, centroids: [Float]? = nil) throws {
        do { try options.validate() } catch { throw EngineError.invalidOptions(error) }
        guard dimension > 0 else { throw EngineError.dimension(dimension) }
        let k = options.clusters
        if let centroids, centroids.count != k * dimension {
            throw EngineError.centroidShape(expectedClusters: k, dimension: dimension, valueCount: centroids.count)
        }
        self.options = options
        self.dimension = dimension
        var c = centroids ?? []
        if !c.isEmpty { VectorMath.normaliseRows(&c, dimension) }
        concepts = ConceptTable(clusters: k, dimension: dimension, centroids: c)
        quota = QuotaPolicy(clusters: k, keepRatio: options.keepRatio)
        queue = HeldQueue(clusters: k)
        movesCentroids = options.update == .online
        moves = OnlineMoves(clusters: k, dimension: dimension, moving: movesCentroids)
        movement = CentroidMovement(clusters: k)
        let sketch = SignSketch(dimension: dimension, seed: options.seed)
        dedup = (0..<k).map { _ in DedupMemory(sketch: sketch, capacity: options.dedupMemory) }
        warming = true
        warmupBuffer = EngineRows(dimension: dimension)
        reservoirRNG = Xoshiro256StarStar(seed: options.seed, stream: 3)
        keepRNG = Xoshiro256StarStar(seed: options.seed, stream: 4)
        decayRNG = Xoshiro256StarStar(seed: options.seed, stream: 6)
    }

    /// The current `clusters × dimension` centroids (empty while warming up without given centroids).
    public var centroids: [Float] { concepts.centroids }
    /// True until `warmup` valid records have arrived (or `finish()` was called).
    public var isWarmingUp: Bool { warming }
    /// Valid records buffered by the warm-up so far, and how many it waits for; nil once it is over.
    public var warmupProgress: (seen: Int, target: Int)? { warming ? (warmupBuffer.count, warmupTarget) : nil }
    /// Valid records the warm-up buffers: k-means sees every record that arrives
    /// before the first decision falls due (see `PruningOptions.clusteringWarmup`).
    var warmupTarget: Int { concepts.centroids.isEmpty ? max(options.clusteringWarmup, 1) : options.warmup }
    /// Number of concepts k.
    public var clusters: Int { options.clusters }

    // MARK: Submitting

    /// Takes valid records' rows and returns the decisions that became due, for rows
    /// in arrival order (the caller pairs them with its records: `ArrivalOrder`).
    ///
    /// During warm-up rows are buffered and nothing is returned; the call
    /// that completes warm-up returns the buffered rows' decisions (those
    /// not held back by `lookahead`).
    public mutating func submit(_ batch: EngineRows) -> [Decision] {
        precondition(batch.dimension == dimension, "batch dimension \(batch.dimension) ≠ engine dimension \(dimension)")
        var out = [Decision]()
        var index = 0
        totalSeen += batch.count
        let target = warmupTarget
        while warming {
            if (warmupBuffer.count >= target || (warmupEndsEarly && warmupBuffer.count > 0)) && !waitsForCentroids {
                endWarmup(into: &out)
                break
            }
            guard index < batch.count else { break }
            warmupBuffer.append(row: index, of: batch)
            index += 1
        }
        if !warming && index < batch.count {
            arrive(batch, from: index, into: &out, as: .live)
        } else if !warming && remote != nil && !holdsForView {
            // A cluster shard's empty batch after its hold ends: what is due now is decided.
            recompute()
            popDue(into: &out)
        }
        return out
    }

    /// Ends the stream: decides everything still buffered or held.
    ///
    /// A stream shorter than warm-up is clustered and decided in full (concepts
    /// beyond the number of distinct rows stay empty). Held records are decided
    /// like the offline recipe: each concept keeps the remainder of its final
    /// quota among its held members.
    public mutating func finish() -> [Decision] {
        var out = [Decision]()
        if warming {
            if warmupBuffer.count > 0 || !concepts.centroids.isEmpty {
                endWarmup(into: &out, holdAll: true)
            } else {
                warmupBuffer.removeAll()
                return out
            }
        }
        // Nothing held: leave quotas and thresholds as they are, so that an engine
        // checkpointed after finish() continues exactly like one that never stopped.
        guard !queue.isEmpty else { return out }
        reassignHeld(from: 0, limit: .max)
        quota.dInterDeferrable = false      // the exact decisions use the final centroids' d_inter
        recompute()
        decideHeldExactly(into: &out)
        return out
    }

    // MARK: Warm-up

    mutating func endWarmup(into out: inout [Decision], holdAll: Bool = false) {
        warming = false
        let d = dimension
        if concepts.centroids.isEmpty {
            var fitRows = warmupBuffer.vectors
            if options.minScore != nil {
                // Low-score records are dropped before clustering: k-means does not see them.
                var kept = [Float]()
                for row in 0..<warmupBuffer.count where !isLowScore(warmupBuffer.scores[row]) {
                    kept.append(contentsOf: warmupBuffer.vectors[(row * d)..<(row * d + d)])
                }
                if !kept.isEmpty { fitRows = kept }
            }
            let fit = SphericalKMeans.fitted(vectors: fitRows, dimension: d, k: options.clusters,
                                             iterations: options.kmeansIterations, seed: options.seed, kernel: kernel,
                                             threads: assignmentThreads)
            concepts.centroids = fit.centroids
            warmupFit = fit.summary
        }
        renewKernel()
        movement.began(concepts.epoch)
        quota.dInterStale = true
        var buffer = warmupBuffer
        if options.update == .auto, let kernel = nearest {
            // Assigned once: the choice reads these concepts, and `arrive` below reuses them.
            buffer.assignAhead(with: kernel)
            chooseCentroidUpdate(concepts: buffer.assignedAhead!.clusters)
        }
        warmupBuffer = EngineRows(dimension: d)
        arrive(buffer, from: 0, into: &out, as: .warmupReplay)
        if options.spawnAfter > 0 {
            var all = [UInt32](repeating: 0, count: ConceptStatistics.binCount)
            for s in concepts.statistics { for b in 0..<all.count { all[b] &+= s.histogram[b] } }
            var total = ConceptStatistics(dimension: d, reservoirCapacity: 0)
            total.histogram = all
            total.count = Int(all.reduce(UInt64(0)) { $0 + UInt64($1) })
            drift.farThreshold = total.count > 0 ? total.quantile(options.driftQuantile) : .infinity
        }
        recompute()
        if !holdAll { popDue(into: &out) }
    }

    // MARK: Arrival

    /// How a batch's records enter the engine.
    enum Arrival {
        /// The warm-up's records, once centroids exist: they seeded the centroids, so they update
        /// statistics but never move centroids, feed the drift pool or get decided yet.
        case warmupReplay
        /// Records after warm-up: every step, deciding what becomes due.
        case live
    }

    /// Assigns, records and queues rows `start...` of `batch`, deciding whatever becomes due.
    ///
    /// The rows are cut into segments that end where the centroids may change (the next
    /// move or spawn boundary). Per segment: assign its rows (or take the ahead
    /// assignment), check them for near-duplicates, then let each record take its step.
    mutating func arrive(_ batch: EngineRows, from start: Int, into out: inout [Decision], as arrival: Arrival) {
        let moving = arrival == .live && movesCentroids
        let drifting = arrival == .live && options.spawnAfter > 0 && drift.farThreshold.isFinite
        var i = start
        while i < batch.count {
            let room = moving || drifting ? Self.moveEvery - arrivals % Self.moveEvery : Int.max
            let segment = i..<(i + min(room, batch.count - i))
            let (assignment, similarity, runnerUps) = assign(segment, of: batch)
            let duplicates = nearDuplicates(segment, of: batch, assignment: assignment)
            batch.vectors.withUnsafeBufferPointer { vectors in
                for (v, r) in segment.enumerated() {
                    let concept = Int(assignment[v]), distance = 1 - similarity[v]
                    let duplicate = !duplicates.isEmpty && duplicates[v]
                    let runnerUp = runnerUps.isEmpty ? Float.infinity : runnerUps[v]
                    if isLowScore(batch.scores[r]) {
                        queueUnassigned(as: .lowScore, into: &out, deciding: arrival == .live)
                        continue
                    }
                    let start = r * dimension
                    let row = UnsafeBufferPointer(rebasing: vectors[start..<(start + dimension)])
                    if duplicate {
                        queueDuplicate(concept: concept, distance: distance, into: &out, deciding: arrival == .live)
                    } else {
                        take(row: row, concept: concept, distance: distance, runnerUp: runnerUp,
                             moving: moving, drifting: drifting)
                        if arrival == .live { decideDue(into: &out) }
                    }
                }
            }
            i = segment.upperBound
        }
    }

    /// The segment's nearest concepts and similarities: the ahead assignment when it came
    /// from the current kernel, else the kernel's. When held records keep margins, also
    /// each row's runner-up bound (else empty), and an ahead assignment by an older kernel
    /// of this engine is corrected by the margins (`correctedAhead`).
    mutating func assign(_ segment: Range<Int>, of batch: EngineRows)
        -> (clusters: [Int32], similarities: [Float], runnerUps: [Float]) {
        let n = segment.count, first = segment.lowerBound, d = dimension
        guard n > 0 else { return ([], [], []) }
        let margins = keepsMargins
        if let ahead = batch.assignedAhead, ahead.clusters.count == batch.count {
            let range = segment
            if ahead.matches(nearest!, rowCount: batch.count) {
                let runnerUps = !margins ? [] : ahead.runnerUps.map { Array($0[range]) }
                    ?? [Float](repeating: .infinity, count: n)
                return (Array(ahead.clusters[range]), Array(ahead.similarities[range]), runnerUps)
            }
            if margins, let runnerUps = ahead.runnerUps, let epoch = movement.epoch(of: ahead.kernel) {
                return correctedAhead(clusters: ahead.clusters[range], runnerUps: runnerUps[range], assignedAt: epoch,
                                      rows: first, of: batch)
            }
        }
        var assignment = [Int32](repeating: 0, count: n), similarity = [Float](repeating: 0, count: n)
        var runnerUps = [Float](repeating: .infinity, count: margins ? n : 0)
        batch.vectors.withUnsafeBufferPointer { v in
            let rows = UnsafeBufferPointer(rebasing: v[(first * d)..<((first + n) * d)])
            assignment.withUnsafeMutableBufferPointer { a in
                similarity.withUnsafeMutableBufferPointer { s in
                    runnerUps.withUnsafeMutableBufferPointer { u in
                        nearest!.assign(rows: rows, count: n, into: a, similarities: s, runnerUps: margins ? u : nil)
                    }
                }
            }
        }
        return (assignment, similarity, runnerUps)
    }

    /// Near-duplicate verdicts for the segment's rows (empty when dedup is off); low-score
    /// rows are not checked. Concepts are shared out among threads.
    mutating func nearDuplicates(_ segment: Range<Int>, of batch: EngineRows, assignment: [Int32]) -> [Bool] {
        guard options.dedupThreshold > 0 && !segment.isEmpty else { return [] }
        let d = dimension, first = segment.lowerBound
        var checked = [Int32](repeating: -1, count: segment.count)
        for (v, r) in segment.enumerated() where !isLowScore(batch.scores[r]) { checked[v] = assignment[v] }
        return batch.vectors.withUnsafeBufferPointer { vp in
            DedupMemory.check(rows: UnsafeBufferPointer(rebasing: vp[(first * d)..<((first + segment.count) * d)]),
                              concepts: checked, memories: &dedup, centroids: concepts.centroids,
                              epsilon: options.dedupThreshold, threads: assignmentThreads)
        }
    }

    /// Queues a record without a concept (a low score).
    mutating func queueUnassigned(as kind: HeldQueue.Kind, into out: inout [Decision], deciding: Bool) {
        hold(HeldQueue.Record(cluster: -1, distance: 0, kind: kind), row: nil)
        if deciding { popDue(into: &out) }
    }

    /// Queues a near-duplicate: it is dropped in its turn and enters no statistics.
    mutating func queueDuplicate(concept j: Int, distance: Float, into out: inout [Decision], deciding: Bool) {
        hold(HeldQueue.Record(cluster: Int32(j), distance: distance, kind: .duplicate), row: nil)
        if deciding { popDue(into: &out) }
    }

    /// A valid record joins concept `j`: its statistics, the online moves, the drift pool,
    /// the arrival count and the queue; at a move boundary centroids move and the pool may spawn.
    mutating func take(row: UnsafeBufferPointer<Float>, concept j: Int, distance: Float,
                       runnerUp: Float, moving: Bool, drifting: Bool) {
        concepts.statistics[j].add(distance: distance, vector: row, rng: &reservoirRNG)
        if moving { moves.add(row, to: j) }
        if drifting && distance > drift.farThreshold { drift.add(row, capacity: poolCapacity) }
        if moving { moves.counts[j] += 1 }
        arrivals += 1
        concepts.lastArrival[j] = arrivals
        hold(HeldQueue.Record(cluster: Int32(j), distance: distance, epoch: concepts.epoch,
                              runnerUp: heldRunnerUp(runnerUp)), row: row)
        queue.valid += 1
        queue.perConcept[j] += 1
        if moving && arrivals % Self.moveEvery == 0 { applyMoves() }
        if drifting && arrivals % Self.moveEvery == 0 { spawnFromPool() }
    }

    /// After a live arrival: quotas at their cadence (decaying first, with a half-life),
    /// then whatever the queue has due.
    mutating func decideDue(into out: inout [Decision]) {
        if arrivals % options.recomputeEvery == 0 {
            if options.halfLife > 0 { decay() }
            recompute()
        }
        popDue(into: &out)
    }

    /// True for a record dropped as `low_score`: a score below `--min-score` (records without a score pass).
    func isLowScore(_ score: Float?) -> Bool {
        guard let minScore = options.minScore, let score else { return false }
        return score < minScore
    }

    /// Moves every centroid that received members to the running mean (see `OnlineMoves.apply`).
    mutating func applyMoves() {
        let moved = moves.apply(to: &concepts, dimension: dimension)
        for (j, displacement) in moved { movement.moved(j, by: displacement) }
        if !moved.isEmpty { centroidsChanged(deferringDInter: true, changed: moved.map(\.centroid)) }
    }

    // MARK: Quotas

    /// Quotas, keep rates and thresholds from the current statistics.
    mutating func recompute() {
        let k = options.clusters
        guard !concepts.centroids.isEmpty else { return }
        if quota.dInterStale && !(quota.dInterDeferrable && arrivals - quota.dInterAt < dInterInterval) {
            quota.dInter = ConceptComplexity.dInter(centroids: concepts.centroids, dimension: dimension, neighbors: options.neighbors)
            quota.dInterStale = false
            quota.dInterDeferrable = false
            quota.dInterAt = arrivals
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
        if quota.liveQuotas {
            // Retired concepts or decayed counts: the budget is ρ of the live statistics plus
            // the global keep deficit so far, so the realised ratio still tracks ρ.
            let live = sizes.reduce(0, +)
            let deficit = options.keepRatio * Double(totalKept + totalDropped) - Double(totalKept)
            m = min(max(Int((options.keepRatio * Double(live) + deficit).rounded()), 0), live)
        }
        let summaries = ConceptComplexity.summaries(sizes: sizes, dIntra: dIntra, dInter: quota.dInter,
                                                    total: m, options: options)
        for j in 0..<k {
            quota.quotas[j] = summaries[j].quota
            let n = sizes[j]
            guard n > 0 else { quota.rates[j] = 0; quota.thresholds[j] = 0; continue }
            let rate = repayingRate(j, quota: quota.quotas[j], members: n)
            quota.rates[j] = rate
            // Thresholds are quantiles over every member so far, warm-up included, as the
            // offline recipe ranks all members together. (Warm-up members sit closer to
            // centroids fitted on them; leaving them out once later members existed
            // lowered the final-centroid overlap (docs/history.md).)
            switch options.keep {
            case .hard:
                quota.thresholds[j] = rate <= 0 ? .infinity : (rate >= 1 ? -.infinity : quantile(1 - rate, of: j))
            case .easy:
                quota.thresholds[j] = rate <= 0 ? -.infinity : (rate >= 1 ? .infinity : quantile(rate, of: j))
            case .random: quota.thresholds[j] = 0
            }
        }
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
        do { try newOptions.validate() } catch { throw EngineError.invalidOptions(error) }
        if newOptions.clusters != options.clusters { throw EngineError.notLive(.clusters) }
        if newOptions.seed != options.seed { throw EngineError.notLive(.seed) }
        if newOptions.update != options.update { throw EngineError.notLive(.update) }
        if newOptions.dedupMemory != options.dedupMemory { throw EngineError.notLive(.dedupMemory) }
        let neighborsChanged = newOptions.neighbors != options.neighbors
        options = newOptions
        if neighborsChanged { quota.dInterStale = true; quota.dInterDeferrable = false }
        if !warming { recompute() }
    }
}
