// Concept drift in the streaming engine: far records are pooled and spawn new
// concepts (retiring stale ones, so k stays fixed); statistics can decay.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension StreamingPruner {
    /// Pool capacity in records (a FIFO ring: the most recent far records).
    var poolCapacity: Int { 4 * options.spawnAfter }

    /// Spawns concepts from dense groups of the pool (called at arrival counts that are multiples of `moveEvery`).
    ///
    /// The pool (≥ `spawnAfter` records) is clustered by spherical k-means with
    /// ⌊pool / spawnAfter⌋ groups. A group becomes a concept when it has at least
    /// `spawnAfter / 2` members and is at least as tight as a typical concept (its
    /// mean distance to its own centroid ≤ the median d_intra of the live
    /// concepts): scattered outliers, which every shuffled stream has, never
    /// qualify, a run of a new concept does. The concept it replaces is the most
    /// stale one (oldest latest member; ties: lowest index); its members still in
    /// the lookahead queue are decided at once against its last threshold. Its members' decisions stay as made;
    /// its kept/decided counts are retired into the global totals, which the quota
    /// budget keeps charging (see `recompute`).
    mutating func spawnFromPool() {
        let d = dimension, s = options.spawnAfter
        let n = drift.rows.count / d
        guard s > 0, n >= s else { return }
        let groups = max(1, n / s)
        let cents = SphericalKMeans.fit(vectors: drift.rows, dimension: d, k: groups, iterations: 10,
                                        seed: options.seed &+ UInt64(drift.spawned) &+ 7, kernel: kernel)
        let (assign, sim) = NearestCentroid(centroids: cents, dimension: d, kernel: kernel).assign(rows: drift.rows)
        var sizes = [Int](repeating: 0, count: groups), sums = [Double](repeating: 0, count: groups)
        for i in 0..<n { sizes[Int(assign[i])] += 1; sums[Int(assign[i])] += Double(1 - sim[i]) }
        let intra = (0..<options.clusters).filter { stats[$0].count > 0 }.map { stats[$0].meanDistance }.sorted()
        guard !intra.isEmpty else { return }
        let median = intra[intra.count / 2]
        let order = (0..<groups).sorted { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1 }
        var removed = Set<Int>(), used = Set<Int>()
        for g in order where sizes[g] >= max(s / 2, 1) && sums[g] / Double(sizes[g]) <= median {
            var retiree = -1
            for j in 0..<options.clusters where !used.contains(j) {
                if retiree < 0 || concepts.lastArrival[j] < concepts.lastArrival[retiree] { retiree = j }
            }
            guard retiree >= 0 else { break }
            used.insert(retiree)
            retire(retiree, replacingWith: Array(cents[(g * d)..<(g * d + d)]))
            removed.insert(g)
        }
        guard !removed.isEmpty else { return }
        var kept = [Float]()
        for i in 0..<n where !removed.contains(Int(assign[i])) { kept.append(contentsOf: drift.rows[(i * d)..<(i * d + d)]) }
        drift.rows = kept
        drift.next = 0
        centroidsChanged()
        recompute()
    }

    /// Replaces concept `j` by a fresh one at `centroid`.
    mutating func retire(_ j: Int, replacingWith centroid: [Float]) {
        let d = dimension
        // Members still waiting in the lookahead queue are decided now against the retiring
        // concept's threshold (their log lines still come out in arrival order).
        for i in queue.records.indices where queue.records[i].kind == .normal && queue.records[i].cluster == Int32(j) {
            let keep: Bool
            switch options.keep {
            case .hard: keep = queue.records[i].distance >= quota.thresholds[j]
            case .easy: keep = queue.records[i].distance <= quota.thresholds[j]
            case .random: keep = keepRNG.nextUnit() < quota.rates[j]
            }
            queue.records[i].kind = keep ? .fixedKeep : .fixedDrop
            queue.records[i].fixedThreshold = quota.thresholds[j]
        }
        queue.perConcept[j] = 0
        concepts.reset(j, to: centroid, dimension: d, at: arrivals)
        quota.reset(j, keepRatio: options.keepRatio)
        dedup[j].removeAll()
        moves.clear(j, dimension: d)
        movement.replaced(j)
        drift.spawned += 1
        quota.liveQuotas = true
    }

    /// How many times a shuffle's expected divergence an ordered warm-up must exceed.
    ///
    /// Why 1.5: the divergence is a mean over W windows and k concepts, so a shuffle's
    /// value sits within a few percent of its expectation (0.0685 measured against 0.069
    /// expected on 30,000 real records, k = 100); half again above it is far outside
    /// sampling noise, while a crawl that emits one site at a time lands at 2–5×.
    static let orderedMargin = 1.5

    /// With `update` auto: measures how far consecutive parts of the warm-up differ in their
    /// concepts, and turns online updates (and decision-time assignment) on for a concept-ordered one.
    ///
    /// The warm-up is cut into W consecutive windows of at least 10·k records (W ≤ 10; with
    /// fewer than two there is no evidence and centroids stay frozen). The divergence is the
    /// mean total-variation distance ½ Σ_j |h_w(j) − h(j)| between each window's concept
    /// histogram and the whole warm-up's: 0 when every part looks like the whole, 1 when the
    /// parts share no concept. The bar is not a constant: it is `orderedMargin` times what
    /// sampling alone gives a shuffled stream of this warm-up, `shuffleExpectation`, which
    /// depends on k, the window size and the concepts' shares. So the rule holds for any k,
    /// warm-up length and data set instead of fitting one.
    mutating func chooseCentroidUpdate(concepts clusters: [Int32]) {
        let k = options.clusters, n = clusters.count
        let windows = min(10, n / max(10 * k, 1))
        guard windows >= 2 else { return }
        var whole = [Double](repeating: 0, count: k)
        for c in clusters { whole[Int(c)] += 1 }
        for j in 0..<k { whole[j] /= Double(n) }
        var total = 0.0
        for w in 0..<windows {
            let range = (w * n / windows)..<((w + 1) * n / windows)
            var part = [Double](repeating: 0, count: k)
            for i in range { part[Int(clusters[i])] += 1 }
            var distance = 0.0
            for j in 0..<k { distance += abs(part[j] / Double(range.count) - whole[j]) }
            total += distance / 2
        }
        let divergence = total / Double(windows)
        orderDivergence = divergence
        let bar = Self.orderedMargin * Self.shuffleExpectation(shares: whole, window: n / windows, total: n)
        orderDivergenceBar = bar
        if divergence > bar {
            movesCentroids = true
            moves.start(clusters: k, dimension: dimension)
            // The same kernel (this warm-up's rows were assigned by it), now with runner-ups.
            if let screened = nearest?.isScreened { nearest!.computesRunnerUps = usesMargins && screened }
        }
    }

    /// The divergence a shuffled warm-up shows by sampling alone: the expected
    /// ½ Σ_j |ĥ_w(j) − h(j)| when a window of `window` records is drawn without
    /// replacement from `total` records with concept shares `shares`. Each
    /// |ĥ − h| is about half-normal with variance h(1 − h)/n_w · (1 − n_w/n), so
    /// its mean is √(2/π) times its standard deviation.
    static func shuffleExpectation(shares: [Double], window: Int, total: Int) -> Double {
        let correction = max(0, 1 - Double(window) / Double(total))
        var sum = 0.0
        for h in shares where h > 0 {
            sum += (2 / Double.pi * h * (1 - h) / Double(window) * correction).squareRoot()
        }
        return sum / 2
    }

    /// Exponential decay of every concept's statistics over `recomputeEvery` arrivals
    /// (factor 2^(−recomputeEvery / halfLife)).
    mutating func decay() {
        let f = exp2(-Double(options.recomputeEvery) / Double(options.halfLife))
        for j in 0..<options.clusters { concepts.statistics[j].decay(by: f, rng: &decayRNG) }
        quota.liveQuotas = true
    }
}

extension ConceptStatistics {
    /// Scales the statistics by `factor` (exponential ageing).
    ///
    /// Histogram bins are scaled with seeded stochastic rounding (unbiased, so
    /// small bins fade instead of sticking at 1), `count` becomes the histogram's
    /// total and the fixed-point sum is scaled and rounded. Kept/dropped counts and
    /// the reservoir are history, not weights, and stay. Decayed statistics still
    /// merge by addition: two engines' decayed statistics taken at the same global
    /// arrival clock add to what one engine would hold (up to rounding).
    public mutating func decay(by factor: Double, rng: inout Xoshiro256StarStar) {
        var total = 0
        var scaled = histogram
        for b in 0..<scaled.count where scaled[b] > 0 {
            let x = Double(scaled[b]) * factor
            var v = x.rounded(.down)
            if rng.nextUnit() < x - v { v += 1 }
            scaled[b] = UInt32(v)
            total += Int(v)
        }
        histogram = scaled
        let mean = count > 0 ? Double(distanceSum) / Double(count) : 0
        count = total
        distanceSum = UInt64((mean * Double(total)).rounded())
    }
}
