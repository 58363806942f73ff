// How closely the streaming engine reproduces the offline recipe on a dataset.

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

    public var description: String {
        func f(_ x: Double) -> String {
            let v = (x * 10000).rounded() / 10000
            var s = "\(v)"
            while s.count < 6 { s += "0" }
            return s
        }
        let o = options
        return """
        fidelity: \(rows) rows, k=\(o.clusters) ρ=\(o.keepRatio) τ=\(o.temperature) keep=\(o.keep.rawValue) \
        update=\(o.update.rawValue) warmup=\(o.warmup) lookahead=\(o.lookahead)
          metric                                   value
          streaming keep ratio                     \(f(streamingKeepRatio))  (\(streamingKept) kept, target \(f(o.keepRatio)))
          overlap vs offline, final centroids      \(f(overlapFinalCentroids))  (\(offlineFinalCentroidsKept) kept offline)
          overlap vs plain offline (end to end)    \(f(overlapOffline))
          offline vs offline (seed+1)              \(f(overlapOfflineSeeds))
        """
    }
}

/// Measures how faithful streaming DBP is to offline DBP.
public enum Fidelity {
    /// |A ∩ B| / |B|.
    public static func overlap(_ a: [Bool], _ b: [Bool]) -> Double {
        var both = 0, nb = 0
        for i in a.indices { if b[i] { nb += 1; if a[i] { both += 1 } } }
        return nb > 0 ? Double(both) / Double(nb) : 1
    }

    /// Streams the rows (in the given order, batches of `batchSize`), then compares with offline runs.
    public static func report(vectors: [Float], dimension d: Int, options: PruningOptions, batchSize: Int = 512) -> FidelityReport {
        let n = vectors.count / d
        let (keep, centroids) = stream(vectors: vectors, dimension: d, options: options, batchSize: batchSize)
        let final = OfflinePruner.run(vectors: vectors, dimension: d, options: options, centroids: centroids)
        let plain = OfflinePruner.run(vectors: vectors, dimension: d, options: options)
        var other = options
        other.seed &+= 1
        let plain2 = OfflinePruner.run(vectors: vectors, dimension: d, options: other)
        let kept = keep.reduce(0) { $0 + ($1 ? 1 : 0) }
        return FidelityReport(rows: n, options: options, streamingKeepRatio: Double(kept) / Double(max(n, 1)),
                              streamingKept: kept, offlineFinalCentroidsKept: final.keptCount,
                              overlapFinalCentroids: overlap(keep, final.keep), overlapOffline: overlap(keep, plain.keep),
                              overlapOfflineSeeds: overlap(plain2.keep, plain.keep))
    }

    /// Runs the engine over the rows; returns the keep flag per row and the final centroids.
    public static func stream(vectors: [Float], dimension d: Int, options: PruningOptions, batchSize: Int = 512,
                              centroids: [Float]? = nil, gain: Double = 1) -> (keep: [Bool], centroids: [Float]) {
        let n = vectors.count / d
        var engine = try! StreamingPruner(options: options, dimension: d, centroids: centroids)
        engine.deficitGain = gain
        var keep = [Bool](repeating: false, count: n)
        func collect(_ r: DecidedRecords) {
            for (e, dec) in zip(r.entries, r.decisions) where dec.verdict == .keep { keep[Int(e.origin.seq)] = true }
        }
        var start = 0
        while start < n {
            let end = min(n, start + max(batchSize, 1))
            var batch = RecordBatch(dimension: d, reservingCapacity: end - start)
            for i in start..<end {
                batch.append(origin: RecordOrigin(source: 0, seq: UInt64(i)), id: "", score: nil,
                             vector: vectors[(i * d)..<(i * d + d)])
            }
            collect(engine.submit(batch))
            start = end
        }
        collect(engine.finish())
        return (keep, engine.centroids)
    }
}
