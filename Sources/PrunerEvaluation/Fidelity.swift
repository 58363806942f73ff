// How closely the streaming engine reproduces the offline recipe on a dataset
// (evaluation code: `prunerd fidelity` and the tests use it, the daemon does not).
import PrunerCore

/// Agreement between streaming and offline DBP on one dataset.
public struct FidelityReport: Sendable, CustomStringConvertible {
    public var rows: Int
    public var options: PruningOptions
    /// Records kept by the streaming engine / rows.
    public var streamingKeepRatio: Double
    public var streamingKept: Int
    /// Records kept offline with the engine's final centroids.
    public var offlineFinalCentroidsKept: Int
    /// |S ∩ O| / |O| with O = offline with the engine's final centroids.
    public var overlapFinalCentroids: Double
    /// |S ∩ O| / |O| with O = plain offline (own k-means, options.seed).
    public var overlapOffline: Double
    /// |O ∩ O'| / |O| between plain offline runs with seed and seed + 1: the noise floor of DBP itself.
    public var overlapOfflineSeeds: Double
    /// The same for seeds + 1 … + `seedPairs` (min, mean, max): one pair is a noisy reference.
    public var overlapOfflineSeedRange: (min: Double, mean: Double, max: Double) = (0, 0, 0)
    /// |F ∩ O| / |O| with F = offline on the engine's final centroids: the part of the end-to-end
    /// gap that is the centroids rather than the streaming decisions.
    public var overlapCentroidsOnly: Double = 0
    /// Records the engine dropped as near-duplicates (0 with dedup off).
    public var streamingDuplicates: Int = 0
    /// Duplicates exact SemDeDup finds in stream order within the engine's concepts (all earlier pairs).
    public var exactDuplicates: Int = 0
    /// Recall / precision of the streaming duplicate drops against those exact duplicates.
    public var dedupRecall: Double = 1
    public var dedupPrecision: Double = 1
    /// Rows dropped as duplicates by plain offline SemDeDup (farthest member of each group kept).
    public var offlineDuplicates: Int = 0
    /// Concepts spawned by drift handling.
    public var spawned: Int = 0
    /// Whether the stream's centroids moved (`update` online, or auto's choice) and auto's measure.
    public var movesCentroids: Bool = false
    public var orderDivergence: Double? = nil
    /// The bar it was compared with (a shuffle's expectation × 1.5).
    public var orderDivergenceBar: Double? = nil
    /// Kept / non-duplicate records: the ratio the engine aims at ρ.
    public var keepRatioOfNonDuplicates: Double { Double(streamingKept) / Double(max(rows - streamingDuplicates, 1)) }

    public var description: String {
        func f(_ x: Double) -> String {
            let v = (x * 10000).rounded() / 10000
            var s = "\(v)"
            while s.count < 6 { s += "0" }
            return s
        }
        let o = options
        var update = o.update.rawValue
        if o.update == .auto {
            update += " (\(movesCentroids ? "online" : "frozen")"
                + (orderDivergence.map { ", order divergence \(f($0))" } ?? "")
                + (orderDivergenceBar.map { " against \(f($0))" } ?? "") + ")"
        }
        var dedupLines = ""
        if o.dedupThreshold > 0 {
            dedupLines = """

              dedup ε=\(o.dedupThreshold) memory=\(o.dedupMemory)
              streaming duplicates dropped             \(streamingDuplicates)  (offline SemDeDup: \(offlineDuplicates))
              exact duplicates (stream order)          \(exactDuplicates)
              dedup recall vs exact                    \(f(dedupRecall))
              dedup precision vs exact                 \(f(dedupPrecision))
              keep ratio of non-duplicates             \(f(keepRatioOfNonDuplicates))
            """
        }
        if o.spawnAfter > 0 || o.halfLife > 0 {
            dedupLines += "\n  drift spawn-after=\(o.spawnAfter) half-life=\(o.halfLife): \(spawned) concepts spawned"
        }
        return """
        fidelity: \(rows) rows, k=\(o.clusters) ρ=\(o.keepRatio) τ=\(o.temperature) keep=\(o.keep.rawValue) \
        update=\(update) warmup=\(o.warmup) lookahead=\(o.lookahead)
          metric                                   value
          streaming keep ratio                     \(f(streamingKeepRatio))  (\(streamingKept) kept, target \(f(o.keepRatio)))
          overlap vs offline, final centroids      \(f(overlapFinalCentroids))  (\(offlineFinalCentroidsKept) kept offline)
          overlap vs plain offline (end to end)    \(f(overlapOffline))
          offline vs offline (seed+1)              \(f(overlapOfflineSeeds))
          offline vs offline (seed+1…+\(Fidelity.seedPairs)) min/mean/max  \(f(overlapOfflineSeedRange.min)) / \(f(overlapOfflineSeedRange.mean)) / \(f(overlapOfflineSeedRange.max))
          offline on final centroids vs plain      \(f(overlapCentroidsOnly))  (the centroids' share of the gap)
        """ + dedupLines
    }
}

/// Measures how faithful streaming DBP is to offline DBP.
public enum Fidelity {
    /// Offline runs with other seeds that the seed-to-seed noise is measured over.
    public static let seedPairs = 3

    /// |A ∩ B| / |B|.
    public static func overlap(_ a: [Bool], _ b: [Bool]) -> Double {
        var both = 0, nb = 0
        for i in a.indices { if b[i] { nb += 1; if a[i] { both += 1 } } }
        return nb > 0 ? Double(both) / Double(nb) : 1
    }

    /// Streams the rows (in the given order, batches of `batchSize`), then compares with offline runs.
    public static func report(vectors: [Float], dimension d: Int, options: PruningOptions, batchSize: Int = 512) -> FidelityReport {
        let n = vectors.count / d
        let run = streamDetailed(vectors: vectors, dimension: d, options: options, batchSize: batchSize)
        let keep = run.keep, centroids = run.centroids
        let final = OfflinePruner.run(vectors: vectors, dimension: d, options: options, centroids: centroids)
        let plain = OfflinePruner.run(vectors: vectors, dimension: d, options: options)
        let others = (1...seedPairs).map { offset -> Double in
            var other = options
            other.seed &+= UInt64(offset)
            return overlap(OfflinePruner.run(vectors: vectors, dimension: d, options: other).keep, plain.keep)
        }
        let kept = keep.reduce(0) { $0 + ($1 ? 1 : 0) }
        var report = FidelityReport(rows: n, options: options, streamingKeepRatio: Double(kept) / Double(max(n, 1)),
                                    streamingKept: kept, offlineFinalCentroidsKept: final.keptCount,
                                    overlapFinalCentroids: overlap(keep, final.keep), overlapOffline: overlap(keep, plain.keep),
                                    overlapOfflineSeeds: others[0])
        report.overlapOfflineSeedRange = (others.min()!, others.reduce(0, +) / Double(others.count), others.max()!)
        report.overlapCentroidsOnly = overlap(final.keep, plain.keep)
        report.spawned = run.spawned
        report.movesCentroids = run.movesCentroids
        report.orderDivergence = run.orderDivergence
        report.orderDivergenceBar = run.orderDivergenceBar
        if options.dedupThreshold > 0 {
            let exact = DedupEvaluation.exactDuplicates(vectors: vectors, dimension: d, concepts: run.clusters,
                                                        epsilon: options.dedupThreshold)
            let rp = DedupEvaluation.recallPrecision(streaming: run.duplicate, exact: exact)
            report.streamingDuplicates = run.duplicate.reduce(0) { $0 + ($1 ? 1 : 0) }
            report.exactDuplicates = exact.reduce(0) { $0 + ($1 ? 1 : 0) }
            report.dedupRecall = rp.recall
            report.dedupPrecision = rp.precision
            report.offlineDuplicates = plain.duplicate.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        return report
    }

    /// What one streaming run decided, per row.
    public struct StreamRun: Sendable {
        public var keep: [Bool]
        /// Dropped as a near-duplicate.
        public var duplicate: [Bool]
        /// The concept each row was assigned to at arrival (−1 when none).
        public var clusters: [Int32]
        public var centroids: [Float]
        public var spawned: Int
        public var movesCentroids = false
        public var orderDivergence: Double?
        public var orderDivergenceBar: Double?
    }

    /// Runs the engine over the rows and returns every row's outcome.
    public static func streamDetailed(vectors: [Float], dimension d: Int, options: PruningOptions, batchSize: Int = 512,
                                      centroids: [Float]? = nil, scores: [Float?]? = nil) -> StreamRun {
        let n = vectors.count / d
        var engine = try! StreamingPruner(options: options, dimension: d, centroids: centroids)
        var order = ArrivalOrder()
        var run = StreamRun(keep: [Bool](repeating: false, count: n), duplicate: [Bool](repeating: false, count: n),
                            clusters: [Int32](repeating: -1, count: n), centroids: [], spawned: 0)
        func collect(_ r: DecidedRecords) {
            for (e, dec) in zip(r.entries, r.decisions) {
                let i = Int(e.origin.seq)
                if dec.verdict == .keep { run.keep[i] = true }
                if dec.reason == .duplicate { run.duplicate[i] = true }
                run.clusters[i] = dec.cluster ?? -1
            }
        }
        var start = 0
        while start < n {
            let end = min(n, start + max(batchSize, 1))
            var batch = RecordBatch(dimension: d, reservingCapacity: end - start)
            for i in start..<end {
                batch.append(origin: RecordOrigin(source: 0, seq: UInt64(i)), id: "", score: scores?[i],
                             vector: vectors[(i * d)..<(i * d + d)])
            }
            order.append(batch)
            collect(order.pair(engine.submit(batch.rows)))
            start = end
        }
        collect(order.pair(engine.finish()))
        run.centroids = engine.centroids
        run.spawned = engine.snapshot().spawned
        run.movesCentroids = engine.movesCentroids
        run.orderDivergence = engine.orderDivergence
        run.orderDivergenceBar = engine.orderDivergenceBar
        return run
    }

    /// Runs the engine over the rows; returns the keep flag per row and the final centroids.
    public static func stream(vectors: [Float], dimension d: Int, options: PruningOptions, batchSize: Int = 512,
                              centroids: [Float]? = nil) -> (keep: [Bool], centroids: [Float]) {
        let run = streamDetailed(vectors: vectors, dimension: d, options: options, batchSize: batchSize, centroids: centroids)
        return (run.keep, run.centroids)
    }
}
