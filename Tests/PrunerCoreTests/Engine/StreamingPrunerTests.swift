import Testing
@testable import PrunerCore
import PrunerEvaluation

/// Helpers to drive the engine over rows with chosen batch boundaries.
enum Drive {
    /// Builds entries for rows; every `rejectEvery`-th record (if > 0) is a rejection.
    static func batches(_ vectors: [Float], dimension d: Int, cuts: [Int], rejectEvery: Int = 0) -> [RecordBatch] {
        let n = vectors.count / d
        var out = [RecordBatch]()
        var start = 0
        for end in cuts + [n] {
            var b = RecordBatch(dimension: d)
            for i in start..<max(start, end) {
                let origin = RecordOrigin(source: 0, seq: UInt64(i))
                if rejectEvery > 0 && i % rejectEvery == rejectEvery - 1 {
                    b.appendRejection(origin: origin, id: "r\(i)", reason: .nonFinite)
                } else {
                    b.append(origin: origin, id: "\(i)", score: nil, vector: vectors[(i * d)..<(i * d + d)])
                }
            }
            out.append(b)
            start = max(start, end)
        }
        return out
    }

    static func randomCuts(n: Int, seed: UInt64) -> [Int] {
        var rng = Xoshiro256StarStar(seed: seed)
        var cuts = [Int](), i = 0
        while true {
            i += 1 + rng.nextInt(below: [1, 7, 100, 700][rng.nextInt(below: 4)])
            if i >= n { return cuts }
            cuts.append(i)
        }
    }

    static func run(_ engine: inout PairedPruner, _ batches: [RecordBatch]) -> DecidedRecords {
        var all = DecidedRecords()
        for b in batches { all.append(contentsOf: engine.submit(b)) }
        all.append(contentsOf: engine.finish())
        return all
    }
}

@Suite struct StreamingPrunerTests {
    static let small = TestData.mixture(rows: 3000, dimension: 16, concepts: 8, seed: 5)

    func smallOptions(_ update: CentroidUpdate, _ keep: KeepMode = .hard) -> PruningOptions {
        var o = PruningOptions()
        o.clusters = 8; o.warmup = 500; o.lookahead = 300; o.recomputeEvery = 100
        o.update = update; o.keep = keep; o.kmeansIterations = 10
        return o
    }

    @Test(arguments: [(CentroidUpdate.frozen, KeepMode.hard), (.online, .hard), (.online, .easy), (.frozen, .random), (.online, .random)])
    func decisionsDoNotDependOnBatchSplits(update: CentroidUpdate, keep: KeepMode) throws {
        let o = smallOptions(update, keep)
        let v = Self.small.vectors
        var reference: DecidedRecords?
        for seed in [UInt64(1), 2, 3] {
            var engine = try PairedPruner(options: o, dimension: 16)
            let cuts = seed == 1 ? [] : Drive.randomCuts(n: 3000, seed: seed)
            let out = Drive.run(&engine, Drive.batches(v, dimension: 16, cuts: cuts, rejectEvery: 37))
            #expect(out.count == 3000)
            // Output order is input order.
            #expect(out.entries.map(\.origin.seq) == (0..<3000).map(UInt64.init))
            if let reference {
                #expect(out.decisions == reference.decisions)
            } else {
                reference = out
            }
        }
    }

    @Test func rejectionsKeepTheirPlaceAndAreCounted() throws {
        var engine = try PairedPruner(options: smallOptions(.frozen), dimension: 16)
        let out = Drive.run(&engine, Drive.batches(Self.small.vectors, dimension: 16, cuts: [10, 600], rejectEvery: 10))
        for (e, d) in zip(out.entries, out.decisions) {
            #expect((e.rejection != nil) == (d.verdict == .reject))
        }
        let s = engine.snapshot()
        #expect(s.rejected[.nonFinite] == 300)
        #expect(s.seen == 3000 && s.kept + s.dropped == 2700 && s.pending == 0)
    }

    @Test func warmupLongerThanTheStreamStillDecidesEverything() throws {
        var o = smallOptions(.frozen)
        o.warmup = 10_000
        var engine = try PairedPruner(options: o, dimension: 16)
        let batches = Drive.batches(Array(Self.small.vectors[0..<(400 * 16)]), dimension: 16, cuts: [100, 250], rejectEvery: 50)
        for b in batches { #expect(engine.submit(b).isEmpty) }
        #expect(engine.isWarmingUp)
        let out = engine.finish()
        #expect(out.count == 400)
        #expect(out.decisions.filter { $0.verdict == .keep }.count == Int((0.3 * 392).rounded()))
        // Fewer rows than clusters: still decided, extra concepts stay empty.
        var tiny = try PairedPruner(options: o, dimension: 16)
        _ = tiny.submit(Drive.batches(Array(Self.small.vectors[0..<(5 * 16)]), dimension: 16, cuts: [])[0])
        let few = tiny.finish()
        #expect(few.count == 5 && few.decisions.filter { $0.verdict == .keep }.count == 2)
    }

    /// A warm-up shorter than the look-ahead clusters on every record held at the
    /// first decision: the same concepts and decisions as a warm-up of the look-ahead's
    /// length, and the first decision still falls due after `lookahead` later records.
    @Test func warmupShorterThanLookaheadClustersOnEverythingHeld() throws {
        var short = smallOptions(.frozen)
        short.warmup = 200; short.lookahead = 600
        var long = short
        long.warmup = 600
        #expect(short.clusteringWarmup == 600)
        let v = Self.small.vectors
        var a = try PairedPruner(options: short, dimension: 16)
        var b = try PairedPruner(options: long, dimension: 16)
        // Arrival by arrival, up to the first decision: nothing before record 601.
        let first = Drive.batches(Array(v[0..<(600 * 16)]), dimension: 16, cuts: Array(1..<600))
        for (i, batch) in first.enumerated() {
            if i == 300 { #expect(a.warmupProgress?.target == 600) }
            #expect(a.submit(batch).isEmpty)
        }
        #expect(!a.isWarmingUp)
        let next = Drive.batches(Array(v[(600 * 16)..<(601 * 16)]), dimension: 16, cuts: [])[0]
        #expect(a.submit(next).count == 1)
        let rest = Drive.batches(Array(v[(601 * 16)...]), dimension: 16, cuts: [500, 1400])
        var outA = DecidedRecords()
        for batch in rest { outA.append(contentsOf: a.submit(batch)) }
        outA.append(contentsOf: a.finish())
        let outB = Drive.run(&b, Drive.batches(v, dimension: 16, cuts: [600, 601, 1101, 2001]))
        #expect(a.centroids == b.centroids)
        #expect(Array(outB.decisions.dropFirst()) == outA.decisions)
        // Without a look-ahead the warm-up alone decides when k-means runs.
        short.lookahead = 0
        #expect(short.clusteringWarmup == 200)
    }

    @Test func givenCentroidsSkipKMeansAndShapeIsChecked() throws {
        let o = smallOptions(.frozen)
        #expect(throws: EngineError.self) { try PairedPruner(options: o, dimension: 16, centroids: [1, 0]) }
        let c = OfflinePruner.run(vectors: Self.small.vectors, dimension: 16, options: o).centroids
        var engine = try PairedPruner(options: o, dimension: 16, centroids: c)
        _ = Drive.run(&engine, Drive.batches(Self.small.vectors, dimension: 16, cuts: [1000]))
        #expect(zip(engine.centroids, c).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    /// Issue 16's keep ratio in a crawl that emits one concept at a time and is much longer than
    /// the look-ahead (40 separated concepts of very different sizes, 39,614 rows, look-ahead
    /// 1,000, the true centres given). Each concept is decided while later ones are unknown, so
    /// its DBP quota moves after its members have gone, and the end's exact step can only settle
    /// what is still held. Short today: kept 34.4% at ρ = 0.3 and 11.2% at ρ = 0.1 (bench/run's
    /// synthetic crawl, 1M records, k = 500: 28.8% frozen, 35.6% online). docs/history.md says
    /// what was tried (bounds kept_j ≤ N_j ≤ n_j − dropped_j meet it, at a fidelity cost).
    @Test("a long crawl in concept order keeps ρ ± 0.005 (known shortfall)", arguments: [0.3, 0.1])
    func conceptOrderedCrawlKeepsTheRatio(keepRatio: Double) throws {
        let d = 16, k = 40
        var rng = Xoshiro256StarStar(seed: 23)
        var centres = [Float]()
        for _ in 0..<k {
            var c = (0..<d).map { _ in Float(TestData.gaussian(&rng)) }
            TestData.normalise(&c)
            centres += c
        }
        var crawl = [Float]()
        for j in 0..<k {
            let size = 200 + Int(3000 / Double(j % 13 + 1)), spread = 0.05 + 0.1 * Double(j % 5)
            for _ in 0..<size {
                var v = (0..<d).map { t in centres[j * d + t] + Float(spread * TestData.gaussian(&rng)) }
                TestData.normalise(&v)
                crawl += v
            }
        }
        let n = crawl.count / d
        var o = PruningOptions()
        o.clusters = k; o.warmup = 1000; o.lookahead = 1000; o.recomputeEvery = 100
        o.update = .frozen; o.keepRatio = keepRatio
        var engine = try PairedPruner(options: o, dimension: d, centroids: centres)
        let out = Drive.run(&engine, Drive.batches(crawl, dimension: d, cuts: Drive.randomCuts(n: n, seed: 4)))
        let kept = out.decisions.filter { $0.verdict == .keep }.count
        #expect(out.count == n)
        print("concept-ordered crawl, rho \(keepRatio): kept \(kept) of \(n) (\(Double(kept) / Double(n)))")
        withKnownIssue("issue 16: the keep ratio strays on long concept-ordered streams") {
            #expect(abs(Double(kept) / Double(n) - keepRatio) <= 0.005, "kept \(kept) of \(n)")
        }
    }

    @Test func reloadChangesLiveOptionsAndRefusesOthers() throws {
        var engine = try PairedPruner(options: smallOptions(.frozen), dimension: 16)
        var o = engine.options
        o.clusters = 9
        #expect(throws: EngineError.notLive(.clusters)) { try engine.reload(o) }
        o = engine.options; o.seed = 3
        #expect(throws: EngineError.notLive(.seed)) { try engine.reload(o) }
        o = engine.options; o.update = .online
        #expect(throws: EngineError.notLive(.update)) { try engine.reload(o) }
        #expect(engine.options == smallOptions(.frozen))
        o = engine.options; o.keepRatio = 0.5; o.temperature = 0.2
        try engine.reload(o)
        #expect(engine.options.keepRatio == 0.5)
    }
}

/// Fidelity targets on a synthetic mixture of concepts with very different sizes and spreads.
@Suite struct SyntheticFidelityTests {
    static let data = TestData.mixture(rows: 20_000, dimension: 32, concepts: 20, seed: 77)

    @Test(arguments: [(CentroidUpdate.frozen, 0.97), (.online, 0.93)])
    func streamingTracksOffline(update: CentroidUpdate, minimum: Double) {
        var o = PruningOptions()
        o.clusters = 20; o.keepRatio = 0.3; o.temperature = 0.1; o.update = update
        o.warmup = 2000; o.lookahead = 5000   // 75% of records decided mid-stream, not at finish()
        let (keep, centroids) = Fidelity.stream(vectors: Self.data.vectors, dimension: 32, options: o)
        let offline = OfflinePruner.run(vectors: Self.data.vectors, dimension: 32, options: o, centroids: centroids)
        let ratio = Double(keep.filter { $0 }.count) / 20_000
        let overlap = Fidelity.overlap(keep, offline.keep)
        print("synthetic 20k×32 k=20 \(update): keep ratio \(ratio), overlap with offline on final centroids \(overlap)")
        #expect(abs(ratio - 0.3) <= 0.005)
        #expect(overlap >= minimum)
    }
}
