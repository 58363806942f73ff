// The engine's versioned binary checkpoint.
//
// Layout (little-endian):
//   "PRNCKPT\0"  8 bytes magic
//   version      u32 (currently 4: `update` auto's choice, held records'
//                vectors and kernel epochs for re-assignment with online updates; 3 — still read, its held
//                records are then decided on their arrival assignment — made a
//                concept's dedup memory its centre and float16 ring; 2 added
//                dedup, score filter, drift and decay state)
//   length       u64, bytes of payload
//   payload      options, dimension, centroids, per-concept statistics, warm-up
//                buffer (a checkpoint taken during warm-up stores the buffered
//                records), held records, quotas/rates/thresholds, online-update
//                accumulators, RNG states, counters
//   crc32        u32 over every byte before it

/// Why a checkpoint could not be restored. Restoring never half-loads: it either
/// builds a complete engine or throws.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case badMagic
    case unsupportedVersion(UInt32)
    case checksumMismatch(expected: UInt32, actual: UInt32)
    case truncated
    case incompatible(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .badMagic: return "not a prunerd checkpoint (bad magic)"
        case .unsupportedVersion(let v): return "checkpoint version \(v) is not supported (this build reads version \(StreamingPruner.checkpointVersion))"
        case .checksumMismatch(let e, let a): return "checkpoint is corrupt: CRC-32 is \(hex(a)), stored \(hex(e))"
        case .truncated: return "checkpoint is truncated"
        case .incompatible(let m): return "checkpoint is incompatible with the running configuration: \(m)"
        case .malformed(let m): return "checkpoint is malformed: \(m)"
        }
    }

    private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
}

extension StreamingPruner {
    static let checkpointMagic: [UInt8] = Array("PRNCKPT".utf8) + [0]
    public static let checkpointVersion: UInt32 = 4
    /// The largest embedding dimension a checkpoint may claim (a 1 MiB JSON line holds at most ~2^19 numbers).
    public static let maxCheckpointDimension = 1 << 20
    /// The oldest version this build still restores.
    static let oldestReadableVersion: UInt32 = 3

    /// The complete engine state as bytes; `init(checkpoint:options:)` continues exactly where this left off.
    public func checkpoint() -> [UInt8] {
        var w = ByteWriter()
        Self.write(options, to: &w)
        w.int(dimension)
        w.floats(centroidValues)
        w.int(stats.count)
        for s in stats {
            w.int(s.count); w.u64(s.distanceSum); w.u32s(s.histogram); w.int(s.kept); w.int(s.dropped); w.floats(s.reservoir)
        }
        w.bool(warming)
        Self.write(entries: warmupBuffer.entries, to: &w)
        w.floats(warmupBuffer.vectors)
        let pending = held[heldHead...]
        w.int(pending.count)
        for h in pending {
            Self.write(entry: h.entry, to: &w); w.u32(UInt32(bitPattern: h.cluster)); w.f32(h.distance)
            w.u8(h.kind); w.f32(h.fixedThreshold)
        }
        w.int(heldValid); w.int(arrivals)
        w.ints(quotas); w.doubles(rates); w.floats(thresholds); w.doubles(dInter); w.bool(dInterStale); w.ints(decided)
        w.floats(moveSums); w.ints(moveCounts)
        w.rng(reservoirRNG); w.rng(keepRNG)
        w.int(totalSeen); w.int(totalKept); w.int(totalDropped); w.ints(rejected)
        w.int(deficitHorizon); w.f64(deficitGain)
        // Version 2: near-duplicate memories, filters, drift and decay.
        w.int(dedup.count)
        for m in dedup { w.floats(m.center); w.halves(m.vectors); w.int(m.next) }
        w.int(duplicateCount); w.int(lowScoreCount); w.ints(heldPerConcept); w.ints(lastArrival)
        w.f32(farThreshold); w.floats(pool); w.int(poolNext); w.int(spawned); w.bool(liveQuotas); w.rng(decayRNG)
        // Version 4: `update` auto's choice, decision-time re-assignment.
        w.bool(movesCentroids); w.f64(orderDivergence ?? .nan); w.bool(dInterDeferrable); w.int(dInterAt)
        w.u32(kernelEpoch)
        w.u32s(pending.map(\.epoch))
        w.halves(reassignsHeld ? Array(heldRows[(heldHead * dimension)...]) : [])

        var out = ByteWriter()
        out.bytes = Self.checkpointMagic
        out.u32(Self.checkpointVersion)
        out.u64(UInt64(w.bytes.count))
        out.bytes.append(contentsOf: w.bytes)
        out.u32(CRC32.checksum(out.bytes))
        return out.bytes
    }

    /// Restores an engine from `checkpoint()` bytes.
    ///
    /// `options` is the running configuration: `clusters`, `seed` and `update`
    /// (and `dimension`, when given) must match the checkpoint's; live options
    /// that differ are applied as by `reload` (quotas are then recomputed).
    /// - Throws: [`CheckpointError`].
    public init(checkpoint bytes: [UInt8], options: PruningOptions, dimension expectedDimension: Int? = nil) throws {
        let m = Self.checkpointMagic
        guard bytes.count >= m.count, Array(bytes[0..<m.count]) == m else {
            throw bytes.count < m.count && bytes == Array(m.prefix(bytes.count)) ? CheckpointError.truncated : .badMagic
        }
        var header = ByteReader(bytes, from: m.count)
        let version = try header.u32()
        guard (Self.oldestReadableVersion...Self.checkpointVersion).contains(version) else {
            throw CheckpointError.unsupportedVersion(version)
        }
        let length = try header.u64()
        let payloadStart = header.offset
        guard length <= UInt64(bytes.count), bytes.count - payloadStart - 4 >= Int(length) else { throw CheckpointError.truncated }
        let payloadEnd = payloadStart + Int(length)
        var trailer = ByteReader(bytes, from: payloadEnd)
        let stored = try trailer.u32()
        let actual = CRC32.checksum(bytes[0..<payloadEnd])
        guard stored == actual else { throw CheckpointError.checksumMismatch(expected: stored, actual: actual) }
        guard trailer.offset == bytes.count else { throw CheckpointError.malformed("\(bytes.count - trailer.offset) bytes after the checksum") }

        var r = ByteReader(bytes, from: payloadStart, to: payloadEnd)
        let saved = try Self.readOptions(&r)
        let d = try r.int()
        if saved.clusters != options.clusters { throw CheckpointError.incompatible("clusters \(saved.clusters) in checkpoint, \(options.clusters) configured") }
        if saved.seed != options.seed { throw CheckpointError.incompatible("seed \(saved.seed) in checkpoint, \(options.seed) configured") }
        // `update` auto adopts the checkpoint's choice (and an engine saved with frozen or online).
        if saved.update != options.update && options.update != .auto {
            throw CheckpointError.incompatible("update \(saved.update.rawValue) in checkpoint, \(options.update.rawValue) configured")
        }
        if let expectedDimension, expectedDimension != d { throw CheckpointError.incompatible("dimension \(d) in checkpoint, \(expectedDimension) configured") }
        // A forged dimension must not size allocations (fuzz-checkpoint: d ≈ 2^48 trapped in SignSketch).
        guard d > 0, d <= StreamingPruner.maxCheckpointDimension, saved.validationError() == nil else {
            throw CheckpointError.malformed("invalid stored options or dimension")
        }
        var engine: StreamingPruner
        do { engine = try StreamingPruner(options: saved, dimension: d) } catch { throw CheckpointError.malformed("\(error)") }
        let k = saved.clusters
        func check(_ ok: Bool, _ what: String) throws { if !ok { throw CheckpointError.malformed(what) } }
        engine.centroidValues = try r.floats()
        try check(engine.centroidValues.isEmpty || engine.centroidValues.count == k * d, "centroid count")
        try check(try r.int() == k, "concept count")
        for j in 0..<k {
            var s = ConceptStatistics(dimension: d, reservoirCapacity: Self.reservoirCapacity)
            s.count = try r.int(); s.distanceSum = try r.u64(); s.histogram = try r.u32s()
            s.kept = try r.int(); s.dropped = try r.int(); s.reservoir = try r.floats()
            try check(s.histogram.count == ConceptStatistics.binCount && s.reservoir.count % d == 0
                      && s.reservoir.count <= Self.reservoirCapacity * d, "statistics of concept \(j)")
            engine.stats[j] = s
        }
        engine.warming = try r.bool()
        let warmEntries = try Self.readEntries(&r)
        let warmVectors = try r.floats()
        try check(warmVectors.count == warmEntries.filter { $0.row >= 0 }.count * d, "warm-up buffer")
        engine.warmupBuffer = RecordBatch(dimension: d, entries: warmEntries, vectors: warmVectors)
        let heldCount = try r.count(elementSize: 1)
        engine.held = try (0..<heldCount).map { _ in
            Held(entry: try Self.readEntry(&r), cluster: Int32(bitPattern: try r.u32()), distance: try r.f32(),
                 kind: try r.u8(), fixedThreshold: try r.f32())
        }
        try check(engine.held.allSatisfy { $0.cluster < Int32(k) }, "held record cluster")
        engine.heldValid = try r.int(); engine.arrivals = try r.int()
        engine.quotas = try r.ints(); engine.rates = try r.doubles(); engine.thresholds = try r.floats()
        engine.dInter = try r.doubles(); engine.dInterStale = try r.bool(); engine.decided = try r.ints()
        try check([engine.quotas.count, engine.rates.count, engine.thresholds.count, engine.dInter.count, engine.decided.count].allSatisfy { $0 == k }, "per-concept arrays")
        engine.moveSums = try r.floats(); engine.moveCounts = try r.ints()
        try check((engine.moveSums.isEmpty || engine.moveSums.count == k * d) && engine.moveCounts.count == k, "online accumulators")
        engine.reservoirRNG = try r.rng(); engine.keepRNG = try r.rng()
        engine.totalSeen = try r.int(); engine.totalKept = try r.int(); engine.totalDropped = try r.int()
        engine.rejected = try r.ints()
        try check(engine.rejected.count == RejectReason.allCases.count, "rejection counters")
        engine.deficitHorizon = try r.int(); engine.deficitGain = try r.f64()
        try check(try r.int() == k, "dedup memory count")
        for j in 0..<k {
            let c = try r.floats(), v = try r.halves(), next = try r.int()
            try check((c.count == d || (c.isEmpty && v.isEmpty)) && v.count % d == 0 && v.count <= saved.dedupMemory * d
                      && next >= 0 && next < max(saved.dedupMemory, 1), "dedup memory of concept \(j)")
            engine.dedup[j] = DedupMemory(sketch: engine.dedup[j].sketch, capacity: saved.dedupMemory, center: c, vectors: v, next: next)
        }
        engine.duplicateCount = try r.int(); engine.lowScoreCount = try r.int()
        engine.heldPerConcept = try r.ints(); engine.lastArrival = try r.ints()
        try check(engine.heldPerConcept.count == k && engine.lastArrival.count == k, "drift per-concept arrays")
        engine.farThreshold = try r.f32(); engine.pool = try r.floats(); engine.poolNext = try r.int()
        try check(engine.pool.count % d == 0, "drift pool")
        engine.spawned = try r.int(); engine.liveQuotas = try r.bool(); engine.decayRNG = try r.rng()
        try check(version >= 4 || saved.update != .auto, "update auto in a version-3 checkpoint")
        if version >= 4 {
            engine.movesCentroids = try r.bool()
            let divergence = try r.f64()
            engine.orderDivergence = divergence.isNaN ? nil : divergence
            engine.dInterDeferrable = try r.bool(); engine.dInterAt = try r.int()
            try check(engine.movesCentroids == (saved.update == .online) || saved.update == .auto, "centroid update choice")
            engine.kernelEpoch = try r.u32()
            let epochs = try r.u32s()
            try check(epochs.count == heldCount, "held record epochs")
            for i in 0..<heldCount { engine.held[i].epoch = epochs[i] }
            engine.heldRows = try r.halves()
            try check(engine.heldRows.count == (engine.movesCentroids ? heldCount * d : 0), "held record vectors")
        } else if saved.update == .online {
            // A version-3 checkpoint has no held vectors: those records keep their arrival assignment.
            for i in 0..<heldCount { engine.held[i].epoch = engine.kernelEpoch }
            engine.heldRows = [Float16](repeating: 0, count: heldCount * d)
        }
        try check(engine.moveSums.count == (engine.movesCentroids ? k * d : 0), "online accumulators")
        try check(r.offset == payloadEnd, "\(payloadEnd - r.offset) unread payload bytes")
        if !engine.centroidValues.isEmpty && !engine.warming {
            engine.nearest = engine.makeNearest()
        }
        if options != saved {
            do { try engine.reload(options) } catch { throw CheckpointError.incompatible("\(error)") }
        }
        self = engine
    }

    static func write(_ o: PruningOptions, to w: inout ByteWriter) {
        w.f64(o.keepRatio); w.int(o.clusters); w.f64(o.temperature); w.int(o.neighbors); w.f64(o.minPerCluster)
        w.u8(UInt8(KeepMode.allCases.firstIndex(of: o.keep)!)); w.u64(o.seed); w.int(o.kmeansIterations)
        w.int(o.warmup); w.int(o.recomputeEvery); w.u8(UInt8(CentroidUpdate.allCases.firstIndex(of: o.update)!))
        w.int(o.lookahead)
        w.f64(o.dedupThreshold); w.int(o.dedupMemory); w.bool(o.minScore != nil); w.f32(o.minScore ?? 0)
        w.int(o.halfLife); w.int(o.spawnAfter); w.f64(o.driftQuantile)
    }

    static func readOptions(_ r: inout ByteReader) throws -> PruningOptions {
        var o = PruningOptions()
        o.keepRatio = try r.f64(); o.clusters = try r.int(); o.temperature = try r.f64(); o.neighbors = try r.int()
        o.minPerCluster = try r.f64()
        let keep = Int(try r.u8())
        guard keep < KeepMode.allCases.count else { throw CheckpointError.malformed("keep mode \(keep)") }
        o.keep = KeepMode.allCases[keep]
        o.seed = try r.u64(); o.kmeansIterations = try r.int(); o.warmup = try r.int(); o.recomputeEvery = try r.int()
        let update = Int(try r.u8())
        guard update < CentroidUpdate.allCases.count else { throw CheckpointError.malformed("update mode \(update)") }
        o.update = CentroidUpdate.allCases[update]
        o.lookahead = try r.int()
        o.dedupThreshold = try r.f64(); o.dedupMemory = try r.int()
        let hasMin = try r.bool(), minScore = try r.f32()
        o.minScore = hasMin ? minScore : nil
        o.halfLife = try r.int(); o.spawnAfter = try r.int(); o.driftQuantile = try r.f64()
        return o
    }

    static func write(entry e: RecordBatch.Entry, to w: inout ByteWriter) {
        w.u32(e.origin.source); w.u64(e.origin.seq); w.string(e.id)
        w.bool(e.score != nil); w.f32(e.score ?? 0)
        w.u8(e.isDuplicateID ? duplicateIDCode : e.rejection.map { UInt8(RejectReason.allCases.firstIndex(of: $0)! + 1) } ?? 0)
        w.u32(UInt32(bitPattern: e.row))
    }

    /// The entry's reason byte for a repeated id (`--unique-ids`); 1…9 are reject reasons,
    /// 0 a valid record. A new code, not a new version: older checkpoints never hold it.
    static let duplicateIDCode: UInt8 = 255

    static func write(entries: [RecordBatch.Entry], to w: inout ByteWriter) {
        w.int(entries.count)
        for e in entries { write(entry: e, to: &w) }
    }

    static func readEntry(_ r: inout ByteReader) throws -> RecordBatch.Entry {
        let source = try r.u32(), seq = try r.u64(), id = try r.string()
        let hasScore = try r.bool(), score = try r.f32()
        let rej = Int(try r.u8())
        let isDuplicateID = rej == Int(duplicateIDCode)
        guard rej <= RejectReason.allCases.count || isDuplicateID else { throw CheckpointError.malformed("reject reason \(rej)") }
        let row = Int32(bitPattern: try r.u32())
        return RecordBatch.Entry(origin: RecordOrigin(source: source, seq: seq), id: id, score: hasScore ? score : nil,
                                 rejection: rej == 0 || isDuplicateID ? nil : RejectReason.allCases[rej - 1], row: row,
                                 isDuplicateID: isDuplicateID)
    }

    static func readEntries(_ r: inout ByteReader) throws -> [RecordBatch.Entry] {
        let n = try r.count(elementSize: 1)
        return try (0..<n).map { _ in try readEntry(&r) }
    }
}
