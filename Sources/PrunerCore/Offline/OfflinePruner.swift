// The batch DBP recipe over a whole dataset: the reference the streaming
// engine is measured against.

/// Everything the offline recipe decided.
public struct OfflineResult: Sendable {
    /// `k × d` unit centroids.
    public var centroids: [Float]
    /// Concept of every row.
    public var assignments: [Int32]
    /// `1 − cos` from every row to its centroid.
    public var distances: [Float]
    /// Whether every row is kept.
    public var keep: [Bool]
    /// N_j per concept.
    public var quotas: [Int]
    /// Per concept, the distance of the boundary kept record (hard: the smallest
    /// kept distance; easy: the largest); `nil` if none is kept or in `random` mode.
    public var thresholds: [Float?]
    /// What k-means did (nil with given centroids).
    public var fit: SphericalKMeans.FitSummary?
    /// Per concept: size, d_intra, d_inter, complexity, probability, quota.
    public var concepts: [ConceptSummary]
    /// The keep mode used.
    public var mode: KeepMode
    /// Rows dropped as near-duplicates (exact SemDeDup before DBP); all false when dedup is off.
    public var duplicate: [Bool] = []
    /// Rows dropped by the score filter (assignment −1); all false without `minScore`.
    public var lowScore: [Bool] = []

    /// The decision on row `row` as the streaming engine would log it.
    public func decision(forRow row: Int) -> Decision {
        if !lowScore.isEmpty && lowScore[row] {
            return Decision(verdict: .drop, reason: .lowScore, cluster: nil, distance: nil, threshold: nil)
        }
        if !duplicate.isEmpty && duplicate[row] {
            return Decision(verdict: .drop, reason: .duplicate, cluster: assignments[row], distance: distances[row],
                            threshold: thresholds[Int(assignments[row])])
        }
        let kept = keep[row]
        let reason: DecisionReason
        if mode == .random { reason = kept ? .sampled : .notSampled } else { reason = kept ? .withinQuota : .overQuota }
        let j = Int(assignments[row])
        return Decision(verdict: kept ? .keep : .drop, reason: reason, cluster: assignments[row],
                        distance: distances[row], threshold: thresholds[j])
    }

    /// Number of kept rows.
    public var keptCount: Int { keep.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// Density-Based Pruning on a whole dataset at once.
public enum OfflinePruner {
    /// Runs DBP on `vectors` (`n × dimension`, L2-normalised rows).
    ///
    /// 1. Spherical k-means (`options.clusters`, `kmeansIterations`, `seed`), or
    ///    the given `centroids` (normalised here).
    /// 2. d_intra, d_inter (l = `neighbors`), C = d_inter · d_intra.
    /// 3. P = softmax(C/τ), M = round(ρ·n), quotas by [`QuotaProjection`].
    /// 4. Per concept keep the N_j farthest (`hard`), nearest (`easy`) members or a
    ///    seeded random sample (`random`); ties by lower row index.
    ///
    /// With `minScore`, rows whose score (`scores[i]`, when given and non-nil) is
    /// below it are dropped first and take no part in k-means or statistics. With
    /// `dedupThreshold` ε > 0, exact SemDeDup runs after assignment: within each
    /// concept every group of near-copies (cosine > 1 − ε) keeps only its member
    /// farthest from the centroid (the reference's rule, see
    /// [`SemDeDup.withinConcept`]). Statistics, quotas and M = round(ρ·n′) are
    /// then computed on the n′ remaining (non-duplicate, scored) rows only: the
    /// kept count is ρ × the number of non-duplicate records.
    /// `kernel` shapes the assignment code only (every choice assigns alike), and
    /// `threads` only splits k-means and assignment by rows (results do not change).
    public static func run(vectors: [Float], dimension d: Int, options: PruningOptions, centroids given: [Float]? = nil,
                           scores: [Float?]? = nil, kernel: KernelChoice = .fastest, threads: Int = 1) -> OfflineResult {
        let n = vectors.count / d
        var lowScore = [Bool](repeating: false, count: n)
        if let minScore = options.minScore, let scores {
            for i in 0..<min(n, scores.count) { if let s = scores[i], s < minScore { lowScore[i] = true } }
        }
        let anyLow = lowScore.contains(true)
        var fitRows = vectors
        if anyLow {
            fitRows = []
            for i in 0..<n where !lowScore[i] { fitRows.append(contentsOf: vectors[(i * d)..<(i * d + d)]) }
        }
        let nFit = fitRows.count / d
        var centroids: [Float]
        var fit: SphericalKMeans.FitSummary?
        if let given {
            centroids = given
            VectorMath.normaliseRows(&centroids, d)
        } else {
            (centroids, fit) = SphericalKMeans.fitted(vectors: nFit > 0 ? fitRows : vectors, dimension: d,
                                                      k: min(options.clusters, max(nFit, 1)),
                                                      iterations: options.kmeansIterations, seed: options.seed,
                                                      kernel: kernel, threads: threads)
        }
        let k = centroids.count / d
        var (assignments, similarities): ([Int32], [Float]) = ([], [])
        if n > 0 {
            var nearest = NearestCentroid(centroids: centroids, dimension: d, kernel: kernel)
            nearest.threads = threads
            (assignments, similarities) = nearest.assign(rows: vectors)
        }
        var distances = similarities.map { 1 - $0 }
        for i in 0..<n where lowScore[i] { assignments[i] = -1; distances[i] = 0 }
        var members = [[Int]](repeating: [], count: k)
        for i in 0..<n where !lowScore[i] { members[Int(assignments[i])].append(i) }
        var duplicate = [Bool](repeating: false, count: n)
        if options.dedupThreshold > 0 {
            for j in 0..<k {
                let dropped = SemDeDup.withinConcept(vectors: vectors, dimension: d, members: members[j],
                                                       distances: distances, epsilon: options.dedupThreshold)
                for i in dropped { duplicate[i] = true }
            }
            for j in 0..<k { members[j].removeAll { duplicate[$0] } }
        }
        var sums = [Double](repeating: 0, count: k)
        for j in 0..<k { for i in members[j] { sums[j] += Double(distances[i]) } }
        let sizes = members.map(\.count)
        let remaining = sizes.reduce(0, +)
        let dIntra = (0..<k).map { sizes[$0] > 0 ? sums[$0] / Double(sizes[$0]) : 0 }
        let dInter = ConceptComplexity.dInter(centroids: centroids, dimension: d, neighbors: options.neighbors)
        let m = Int((options.keepRatio * Double(remaining)).rounded())
        let concepts = ConceptComplexity.summaries(sizes: sizes, dIntra: dIntra, dInter: dInter, total: m, options: options)
        let quotas = concepts.map(\.quota)

        var keep = [Bool](repeating: false, count: n)
        var thresholds = [Float?](repeating: nil, count: k)
        var rng = Xoshiro256StarStar(seed: options.seed, stream: 2)
        for j in 0..<k where quotas[j] > 0 {
            var list = members[j]
            switch options.keep {
            case .hard:
                list.sort { a, b in distances[a] != distances[b] ? distances[a] > distances[b] : a < b }
            case .easy:
                list.sort { a, b in distances[a] != distances[b] ? distances[a] < distances[b] : a < b }
            case .random:
                for i in 0..<min(quotas[j], list.count) { list.swapAt(i, i + rng.nextInt(below: list.count - i)) }
            }
            for i in list.prefix(quotas[j]) { keep[i] = true }
            if options.keep != .random { thresholds[j] = distances[list[quotas[j] - 1]] }
        }
        var result = OfflineResult(centroids: centroids, assignments: assignments, distances: distances, keep: keep,
                                   quotas: quotas, thresholds: thresholds, concepts: concepts, mode: options.keep,
                                   duplicate: duplicate, lowScore: lowScore)
        result.fit = fit
        return result
    }
}
