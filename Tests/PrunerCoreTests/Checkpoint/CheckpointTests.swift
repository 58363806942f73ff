import Testing
@testable import PrunerCore

@Suite struct CheckpointTests {
    static let data = TestData.mixture(rows: 2500, dimension: 12, concepts: 6, seed: 8)

    func options(_ update: CentroidUpdate) -> PruningOptions {
        var o = PruningOptions()
        o.clusters = 6; o.warmup = 400; o.lookahead = 250; o.recomputeEvery = 90; o.update = update; o.kmeansIterations = 8
        return o
    }

    @Test(arguments: [(CentroidUpdate.frozen, 1000), (.online, 1000), (.online, 200), (.frozen, 0), (.auto, 1000), (.auto, 200)])
    func restoreAndContinueEqualsAnUninterruptedRun(update: CentroidUpdate, split: Int) throws {
        let o = options(update)
        let batches = Drive.batches(Self.data.vectors, dimension: 12, cuts: [split], rejectEvery: 23)
        var whole = try PairedPruner(options: o, dimension: 12)
        let reference = Drive.run(&whole, batches)

        var first = try PairedPruner(options: o, dimension: 12)
        var out = first.submit(batches[0])
        let bytes = first.checkpoint()
        var second = try PairedPruner(checkpoint: bytes, options: o, dimension: 12)
        #expect(second.checkpoint() == bytes)     // round trip is exact
        out.append(contentsOf: second.submit(batches[1]))
        out.append(contentsOf: second.finish())
        #expect(out.decisions == reference.decisions)
        #expect(out.entries.map(\.id) == reference.entries.map(\.id))
        #expect(second.snapshot() == whole.snapshot())
    }

    func sample() throws -> [UInt8] {
        var e = try PairedPruner(options: options(.online), dimension: 12)
        _ = e.submit(Drive.batches(Self.data.vectors, dimension: 12, cuts: [700])[0])
        return e.checkpoint()
    }

    /// Values no engine writes, with a valid CRC (a damaged or forged state directory): refused
    /// by name on restore instead of trapping later (a NaN d_inter made every quota NaN and its
    /// rounding to Int trapped; a centroid of norm 1,000 sent distances below −1).
    @Test(arguments: ["d_inter", "keep rates", "thresholds", "quotas", "centroid", "statistics", "stream counts",
                      "held rows"])
    func valuesNoEngineWritesAreMalformed(what: String) throws {
        var e = try PairedPruner(options: options(.online), dimension: 12)
        _ = e.submit(Drive.batches(Self.data.vectors, dimension: 12, cuts: [700])[0])
        switch what {
        case "d_inter": e.engine.quota.dInter[2] = .nan
        case "keep rates": e.engine.quota.rates[1] = 1.5
        case "thresholds": e.engine.quota.thresholds[0] = .nan
        case "quotas": e.engine.quota.quotas[3] = -1
        case "centroid": e.engine.concepts.centroids[12 * 4 + 5] = 1000
        case "stream counts": e.engine.totalKept = Int.max - 3
        case "held rows": e.engine.queue.rows[e.engine.queue.rows.count - 1] = .nan
        default: e.engine.concepts.statistics[5].count = -2
        }
        #expect { try PairedPruner(checkpoint: e.checkpoint(), options: options(.online)) } throws: { error in
            guard case CheckpointError.malformed(let message) = error else { return false }
            return message.hasPrefix(what)
        }
    }

    @Test func corruptedByteIsAChecksumError() throws {
        var bytes = try sample()
        bytes[bytes.count / 2] ^= 0x10
        #expect { try PairedPruner(checkpoint: bytes, options: options(.online)) } throws: { error in
            if case CheckpointError.checksumMismatch = error { return true } else { return false }
        }
    }

    @Test func truncatedAndForeignBytesAreRejected() throws {
        let bytes = try sample()
        for cut in [0, 5, 12, 30, bytes.count / 2, bytes.count - 1] {
            #expect(throws: CheckpointError.truncated) { try PairedPruner(checkpoint: Array(bytes[0..<cut]), options: options(.online)) }
        }
        var foreign = bytes
        foreign[0] = UInt8(ascii: "X")
        #expect(throws: CheckpointError.badMagic) { try PairedPruner(checkpoint: foreign, options: options(.online)) }
        var future = bytes
        let next = StreamingPruner.checkpointVersion + 1
        future[8] = UInt8(next)
        #expect(throws: CheckpointError.unsupportedVersion(next)) { try PairedPruner(checkpoint: future, options: options(.online)) }
    }

    @Test func incompatibleOptionsAreRejected() throws {
        let bytes = try sample()
        let changes: [(PruningSetting, (inout PruningOptions) -> Void)] = [
            (.clusters, { $0.clusters = 7 }), (.seed, { $0.seed = 1 }), (.update, { $0.update = .frozen })]
        for (setting, change) in changes {
            var o = options(.online)
            change(&o)
            #expect { try PairedPruner(checkpoint: bytes, options: o) } throws: { error in
                guard case CheckpointError.incompatibleSetting(let named, _, _) = error else { return false }
                // Named by the caller's option names, e.g. the CLI's flags.
                let message = (error as! CheckpointError).message(naming: { "--" + $0.rawValue })
                return named == setting && message.contains("--\(setting.rawValue) ")
            }
        }
        #expect { try PairedPruner(checkpoint: bytes, options: options(.online), dimension: 13) } throws: { error in
            if case CheckpointError.incompatible = error { return true } else { return false }
        }
        // `update` auto adopts the checkpoint's choice.
        var adopted = try PairedPruner(checkpoint: bytes, options: options(.auto))
        #expect(adopted.movesCentroids && adopted.options.update == .online)
        // …and a reload (SIGHUP) of that configuration changes live options, not the mode.
        var reloaded = options(.auto)
        reloaded.keepRatio = 0.35
        try adopted.reload(reloaded)
        #expect(adopted.options.keepRatio == 0.35 && adopted.options.update == .online)
        // Live options may differ: they are applied.
        var live = options(.online)
        live.keepRatio = 0.4
        let restored = try PairedPruner(checkpoint: bytes, options: live)
        #expect(restored.options.keepRatio == 0.4)
    }
}

@Suite struct ConceptStatisticsTests {
    @Test func mergingHalvesEqualsTheWhole() {
        let d = 8
        let (v, _) = TestData.mixture(rows: 1000, dimension: d, concepts: 1, seed: 4)
        var rng = Xoshiro256StarStar(seed: 1)
        let distances = (0..<1000).map { _ in Float(rng.nextUnit() * 1.5) }
        var whole = ConceptStatistics(dimension: d), a = ConceptStatistics(dimension: d), b = ConceptStatistics(dimension: d)
        var r1 = Xoshiro256StarStar(seed: 2), r2 = Xoshiro256StarStar(seed: 3)
        v.withUnsafeBufferPointer { p in
            for i in 0..<1000 {
                let row = UnsafeBufferPointer(rebasing: p[(i * d)..<(i * d + d)])
                whole.add(distance: distances[i], vector: row, rng: &r1)
                if i < 400 { a.add(distance: distances[i], vector: row, rng: &r2) } else { b.add(distance: distances[i], vector: row, rng: &r2) }
            }
        }
        a.kept = 100; b.kept = 200; a.dropped = 300; b.dropped = 400
        a.merge(b, seed: 9)
        #expect(a.count == whole.count)
        #expect(a.distanceSum == whole.distanceSum)
        #expect(a.histogram == whole.histogram)
        #expect(a.meanDistance == whole.meanDistance)
        #expect(a.kept == 300 && a.dropped == 700)
        #expect(a.reservoirCount == 32)
        // The merged sample draws from both halves roughly by weight (400 : 600).
        let rows = (0..<a.reservoirCount).map { Array(a.reservoir[($0 * d)..<($0 * d + d)]) }
        let fromFirst = rows.filter { r in (0..<400).contains { i in Array(v[(i * d)..<(i * d + d)]) == r } }.count
        #expect(fromFirst > 4 && fromFirst < 28)
    }

    @Test func quantilesInterpolateWithinBins() {
        var s = ConceptStatistics(dimension: 1, reservoirCapacity: 0)
        var rng = Xoshiro256StarStar(seed: 0)
        for i in 0..<10_000 { s.add(distance: Float(i) / 10_000, vector: nil, rng: &rng) }
        #expect(abs(s.quantile(0.7) - 0.7) < 1e-3)
        #expect(abs(s.quantile(0.25) - 0.25) < 1e-3)
    }
}

@Suite struct SeededRandomTests {
    @Test func knownSequencesAndBounds() {
        var s = SplitMix64(seed: 0)
        #expect(s.next() == 0xE220_A839_7B1D_CDAF)
        var x = Xoshiro256StarStar(seed: 42), y = Xoshiro256StarStar(seed: 42)
        for _ in 0..<100 { #expect(x.next() == y.next()) }
        for _ in 0..<1000 { let v = x.nextInt(below: 7); #expect(v >= 0 && v < 7); #expect(x.nextUnit() < 1) }
    }
}
