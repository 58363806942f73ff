// The engine's versioned binary checkpoint: a sequence of tagged sections, one
// per component, so a component's state is written and read by that component.
//
// Layout (little-endian):
//   "PRNCKPT\0"  8 bytes magic
//   version      u32 (currently 6: tagged sections, the engine's without ids;
//                5 held ids and origins in STRM and HELD, still read; 4 and 3,
//                one flat payload, are still read: EngineCheckpoint+Version4.swift)
//   length       u64, bytes of payload
//   payload      sections, each: tag (4 ASCII bytes), u64 length, body
//                  OPTS  options and dimension
//                  STRM  the stream: warm-up state and buffer (rows and scores), arrival
//                        count, totals, RNG states, `update` auto's choice
//                  CONC  concept table: centroids, statistics, last arrivals, epoch
//                  QUOT  quota policy: quotas, rates, thresholds, d_inter and its schedule
//                  HELD  held queue: records (kinds by code), counts, float16 rows
//                  MOVE  online moves: sums and counts
//                  DRFT  drift pool: far threshold, rows, ring slot, spawn count
//                  DEDP  dedup memories: each concept's centre, float16 ring, slot
//                  ORDR  optional, the caller's `ArrivalOrder`: its waiting records
//                        (origin, id, score, rejection) and rejections by reason code
//   crc32        u32 over every byte before it
//
// Every section but ORDR is required; an unknown or repeated tag is malformed (a later
// version that adds state adds a section and a version). Enums are stored by
// stable codes (CheckpointCodes.swift), never by `allCases` position.

/// Why a checkpoint could not be restored. Restoring never half-loads: it either
/// builds a complete engine or throws.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case badMagic
    case unsupportedVersion(UInt32)
    case checksumMismatch(expected: UInt32, actual: UInt32)
    case truncated
    case incompatible(String)
    /// A setting that sizes or seeds the saved state differs from the configured one (its field:
    /// the caller names it by its option, see `message(naming:)`).
    case incompatibleSetting(PruningSetting, stored: String, configured: String)
    case malformed(String)

    /// The message with the setting named by `name` (the CLI passes its option names).
    public func message(naming name: (PruningSetting) -> String) -> String {
        guard case .incompatibleSetting(let setting, let stored, let configured) = self else { return description }
        return "checkpoint is incompatible with the running configuration: \(name(setting)) \(stored) in checkpoint, \(configured) configured"
    }

    public var description: String {
        switch self {
        case .incompatibleSetting: return message(naming: \.rawValue)
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

/// A section's tag: four ASCII letters, stable across versions.
enum CheckpointSection: String, CaseIterable {
    case options = "OPTS", stream = "STRM", concepts = "CONC", quotas = "QUOT"
    case held = "HELD", moves = "MOVE", drift = "DRFT", dedup = "DEDP"
    /// Not the engine's: the records its caller pairs with its decisions (version 6, optional).
    case order = "ORDR"

    /// The engine's own sections, which every version-5 and -6 checkpoint holds.
    static let engine: [CheckpointSection] = allCases.filter { $0 != .order }

    var tag: [UInt8] { Array(rawValue.utf8) }
}

extension StreamingPruner {
    static let checkpointMagic: [UInt8] = Array("PRNCKPT".utf8) + [0]
    public static let checkpointVersion: UInt32 = 6
    /// The largest embedding dimension a checkpoint may claim (a 1 MiB JSON line holds at most ~2^19 numbers).
    public static let maxCheckpointDimension = 1 << 20
    /// The oldest version this build still restores.
    static let oldestReadableVersion: UInt32 = 3

    /// The complete engine state as bytes; `init(checkpoint:options:)` continues exactly where this left off.
    /// With `order`, the caller's records waiting for the engine's decisions are saved beside it
    /// (section ORDR), and `restoring(checkpoint:options:)` gives them back.
    public func checkpoint(order: ArrivalOrder? = nil) -> [UInt8] {
        var payload = ByteWriter()
        for section in CheckpointSection.allCases {
            var body = ByteWriter()
            if section == .order {
                guard let order else { continue }
                order.write(to: &body)
            } else {
                write(section, to: &body)
            }
            payload.bytes.append(contentsOf: section.tag)
            payload.u64(UInt64(body.bytes.count))
            payload.bytes.append(contentsOf: body.bytes)
        }
        var out = ByteWriter()
        out.bytes = Self.checkpointMagic
        out.u32(Self.checkpointVersion)
        out.u64(UInt64(payload.bytes.count))
        out.bytes.append(contentsOf: payload.bytes)
        out.u32(CRC32.checksum(out.bytes))
        return out.bytes
    }

    /// Writes one section's body: each component writes its own.
    func write(_ section: CheckpointSection, to w: inout ByteWriter) {
        switch section {
        case .options:
            EntryCoding.write(options, to: &w)
            w.int(dimension)
        case .stream:
            w.bool(warming)
            w.floats(warmupBuffer.vectors)
            w.int(warmupBuffer.count)
            for score in warmupBuffer.scores { w.bool(score != nil); w.f32(score ?? 0) }
            w.int(arrivals); w.int(totalSeen); w.int(totalKept); w.int(totalDropped)
            w.int(duplicateCount); w.int(lowScoreCount)
            w.rng(reservoirRNG); w.rng(keepRNG); w.rng(decayRNG)
            w.bool(movesCentroids); w.f64(orderDivergence ?? .nan)
        case .concepts: concepts.write(to: &w)
        case .quotas: quota.write(to: &w)
        case .held: queue.write(to: &w, dimension: dimension)
        case .moves: moves.write(to: &w)
        case .drift: drift.write(to: &w)
        case .dedup:
            w.int(dedup.count)
            for m in dedup { w.floats(m.center); w.halves(m.vectors); w.int(m.next) }
        case .order: break   // the caller's, written from its `ArrivalOrder`
        }
    }

    /// Restores an engine alone from `checkpoint()` bytes (see `restoring(checkpoint:options:dimension:)`,
    /// which also gives back the records waiting for its decisions).
    /// - Throws: [`CheckpointError`].
    public init(checkpoint bytes: [UInt8], options: PruningOptions, dimension expectedDimension: Int? = nil) throws {
        self = try Self.restoring(checkpoint: bytes, options: options, dimension: expectedDimension, pairing: false).engine
    }

    /// Restores an engine from `checkpoint()` bytes (this version's, or versions 3 to 5), with
    /// the caller's records waiting for its decisions: section ORDR, or, from versions that kept
    /// them in the engine, the ids and origins of its warm-up buffer and held queue in order.
    ///
    /// `options` is the running configuration: `clusters`, `seed` and `update`
    /// (and `dimension`, when given) must match the checkpoint's; live options
    /// that differ are applied as by `reload` (quotas are then recomputed).
    /// The order must hold one valid record for each row the engine holds (a checkpoint
    /// written without an order, by an engine holding rows, is malformed here).
    /// - Throws: [`CheckpointError`].
    public static func restoring(checkpoint bytes: [UInt8], options: PruningOptions, dimension expectedDimension: Int? = nil)
        throws -> (engine: StreamingPruner, order: ArrivalOrder) {
        try restoring(checkpoint: bytes, options: options, dimension: expectedDimension, pairing: true)
    }

    /// With `pairing`, the order is checked against the engine's rows.
    static func restoring(checkpoint bytes: [UInt8], options: PruningOptions, dimension expectedDimension: Int?, pairing: Bool)
        throws -> (engine: StreamingPruner, order: ArrivalOrder) {
        let (version, payload) = try Self.payload(of: bytes)
        var engine: StreamingPruner
        var entries = [RecordBatch.Entry]()
        var rejected = [RejectReason: Int]()
        var order: ArrivalOrder?
        if version >= 5 {
            let sections = try Self.sections(bytes, payload, version: version)
            var r = sections[.options]!
            let (saved, d) = try Self.readSavedOptions(&r, against: options, expectedDimension: expectedDimension)
            try Self.requireEnd(r, "options")
            engine = try Self.emptyEngine(saved, dimension: d)
            try engine.restoreSections(sections, version: version, entries: &entries, rejected: &rejected)
            order = try sections[.order].map { section in try Self.read(section, "ORDR") { try ArrivalOrder(reading: &$0) } }
        } else {
            var r = ByteReader(bytes, from: payload.lowerBound, to: payload.upperBound)
            let (saved, d) = try Self.readSavedOptions(&r, against: options, expectedDimension: expectedDimension)
            engine = try Self.emptyEngine(saved, dimension: d)
            try engine.restoreVersion4(&r, version: version, entries: &entries, rejected: &rejected)
            try Self.requireEnd(r, "payload")
        }
        let k = engine.options.clusters, d = engine.dimension
        try engine.requireCountsInRange()
        try engine.requireHistogramsHoldTheirCounts()
        // Past the warm-up an engine always has centroids (and so a kernel to assign with).
        try CheckpointError.require(engine.warming || !engine.concepts.centroids.isEmpty, "no centroids after the warm-up")
        try engine.requireFiniteRows()
        try CheckpointError.require((order?.rejected.values ?? rejected.values).allSatisfy { (0...Self.maxCount).contains($0) },
                                    "rejection counts")
        try CheckpointError.require(engine.moves.sums.count == (engine.movesCentroids ? k * d : 0), "online accumulators")
        try CheckpointError.require(engine.movesCentroids == (engine.options.update == .online) || engine.options.update == .auto,
                                    "centroid update choice")
        if !engine.concepts.centroids.isEmpty && !engine.warming {
            engine.renewKernel()
        }
        if options != engine.options {
            do { try engine.reload(options) } catch { throw CheckpointError.incompatible("\(error)") }
        }
        if version < 6 {
            // Those versions counted rejections among the records seen; the engine now sees rows only.
            engine.totalSeen -= rejected.values.reduce(0, +) + entries.filter { $0.row < 0 && !$0.isDuplicateID }.count
            try CheckpointError.require(engine.totalSeen >= 0, "records seen")
        }
        let restoredOrder = order ?? ArrivalOrder(waiting: entries, rejected: rejected)
        if pairing {
            // Each waiting valid record is one the engine holds (warm-up buffer or queue), in order.
            let waitingRows = restoredOrder.waiting.reduce(0) { $0 + ($1.row >= 0 ? 1 : 0) }
            try CheckpointError.require(waitingRows == engine.warmupBuffer.count + engine.queue.count, "records waiting for the engine")
        }
        return (engine, restoredOrder)
    }

    /// The largest count a checkpoint may hold (2^53, exact in a Double): far beyond any stream,
    /// and small enough that sums of a few counts, and their Double products, cannot overflow.
    static let maxCount = 1 << 53

    /// Checks every restored counter is in 0 ... `maxCount`: a forged one near `Int.max` made
    /// sums of counts overflow (fuzz-checkpoint: rejections in `restoring`, a trap).
    func requireCountsInRange() throws {
        let range = 0...Self.maxCount
        let scalars = [arrivals, totalSeen, totalKept, totalDropped, duplicateCount, lowScoreCount, queue.valid,
                       quota.dInterAt, drift.next, drift.spawned]
        try CheckpointError.require(scalars.allSatisfy(range.contains), "stream counts")
        try CheckpointError.require(concepts.statistics.allSatisfy { range.contains($0.count) && range.contains($0.kept)
                                        && range.contains($0.dropped) }, "concept statistics counts")
        try CheckpointError.require([concepts.lastArrival, quota.decided, quota.quotas, queue.perConcept, moves.counts]
                                        .allSatisfy { $0.allSatisfy(range.contains) }, "per-concept counts")
    }

    /// Checks each concept's histogram holds exactly its count, with every quantile block's sum
    /// a `UInt32`: add, remove, decay and merge keep it so, and a forged histogram let `remove`
    /// take a member from an empty block (fuzz-checkpoint: an overflow trap).
    func requireHistogramsHoldTheirCounts() throws {
        for (j, concept) in concepts.statistics.enumerated() {
            var total = 0
            for block in stride(from: 0, to: ConceptStatistics.binCount, by: ConceptStatistics.quantileBlock) {
                let blockTotal = concept.histogram[block..<(block + ConceptStatistics.quantileBlock)].reduce(0) { $0 + Int($1) }
                try CheckpointError.require(blockTotal <= Int(UInt32.max), "statistics of concept \(j): \(blockTotal) members in one block of bins")
                total += blockTotal
            }
            try CheckpointError.require(total == concept.count, "statistics of concept \(j): histogram holds \(total) members, count says \(concept.count)")
        }
    }

    /// Checks every restored row is finite: the engine only ever holds rows that passed the
    /// reject checks, and a NaN row's similarities are all NaN, so its nearest centroid would be
    /// no index at all (`Int32.max`, out of the concept table).
    func requireFiniteRows() throws {
        try CheckpointError.require(warmupBuffer.vectors.allSatisfy(\.isFinite), "warm-up rows")
        try CheckpointError.require(queue.rows.allSatisfy(\.isFinite), "held rows")
        try CheckpointError.require(drift.rows.allSatisfy(\.isFinite) && moves.sums.allSatisfy(\.isFinite), "drift pool and online sums")
        try CheckpointError.require(dedup.allSatisfy { $0.center.allSatisfy(\.isFinite) && $0.vectors.allSatisfy(\.isFinite) },
                                    "dedup memories")
    }

    /// Reads every engine section of a version-5 or -6 payload into its component; version 5's
    /// ids and origins (warm-up buffer, then held queue) and rejection counts go to `entries`
    /// and `rejected`, for the caller's `ArrivalOrder`.
    mutating func restoreSections(_ sections: [CheckpointSection: ByteReader], version: UInt32,
                                  entries: inout [RecordBatch.Entry], rejected: inout [RejectReason: Int]) throws {
        let k = options.clusters, d = dimension
        var r = sections[.stream]!
        warming = try r.bool()
        if version < 6 {
            let warmEntries = try EntryCoding.readEntries(&r)
            let warmVectors = try r.floats()
            try CheckpointError.require(EntryCoding.rowsAreSequential(warmEntries)
                                        && warmVectors.count == warmEntries.filter { $0.row >= 0 }.count * d, "warm-up buffer")
            warmupBuffer = EngineRows(dimension: d, vectors: warmVectors, scores: warmEntries.filter { $0.row >= 0 }.map(\.score))
            entries = warmEntries
        } else {
            let warmVectors = try r.floats()
            let n = try r.count(elementSize: 5)
            var scores = [Float?]()
            for _ in 0..<n { let has = try r.bool(), score = try r.f32(); scores.append(has ? score : nil) }
            try CheckpointError.require(warmVectors.count == n * d, "warm-up buffer")
            warmupBuffer = EngineRows(dimension: d, vectors: warmVectors, scores: scores)
        }
        arrivals = try r.int(); totalSeen = try r.int(); totalKept = try r.int(); totalDropped = try r.int()
        duplicateCount = try r.int(); lowScoreCount = try r.int()
        if version < 6 {
            let reasons = try r.count(elementSize: 9)
            for _ in 0..<reasons {
                let code = try r.u8(), count = try r.int()
                guard let reason = RejectReason(checkpointCode: code) else { throw CheckpointError.malformed("rejection code \(code)") }
                if count != 0 { rejected[reason] = count }
            }
        }
        reservoirRNG = try r.rng(); keepRNG = try r.rng(); decayRNG = try r.rng()
        movesCentroids = try r.bool()
        let divergence = try r.f64()
        orderDivergence = divergence.isNaN ? nil : divergence
        try Self.requireEnd(r, "STRM")

        concepts = try Self.read(.concepts, of: sections) { try ConceptTable(reading: &$0, clusters: k, dimension: d) }
        quota = try Self.read(.quotas, of: sections) { try QuotaPolicy(reading: &$0, clusters: k) }
        let keepsRows = movesCentroids
        var held = [RecordBatch.Entry]()
        queue = try Self.read(.held, of: sections) {
            try HeldQueue(reading: &$0, clusters: k, dimension: d, keepsRows: keepsRows, version: version, entries: &held)
        }
        entries += held
        moves = try Self.read(.moves, of: sections) { try OnlineMoves(reading: &$0, clusters: k, dimension: d) }
        drift = try Self.read(.drift, of: sections) { try DriftPool(reading: &$0, dimension: d) }
        var dedupSection = sections[.dedup]!
        try restoreDedup(&dedupSection)
        try Self.requireEnd(dedupSection, "dedup")
    }

    /// A component read from its section, which it must read to the end.
    static func read<Component>(_ section: CheckpointSection, of sections: [CheckpointSection: ByteReader],
                                _ make: (inout ByteReader) throws -> Component) throws -> Component {
        try read(sections[section]!, section.rawValue, make)
    }

    /// A component read from a section's body, which it must read to the end.
    static func read<Component>(_ body: ByteReader, _ what: String, _ make: (inout ByteReader) throws -> Component) throws -> Component {
        var r = body
        let component = try make(&r)
        try requireEnd(r, what)
        return component
    }

    /// The dedup memories as version 2 and later store them.
    mutating func restoreDedup(_ r: inout ByteReader) throws {
        let k = options.clusters, d = dimension, capacity = options.dedupMemory
        try CheckpointError.require(try r.int() == k, "dedup memory count")
        for j in 0..<k {
            let c = try r.floats(), v = try r.halves(), next = try r.int()
            try CheckpointError.require((c.count == d || (c.isEmpty && v.isEmpty)) && v.count % d == 0 && v.count / d <= capacity
                                        && next >= 0 && next < max(capacity, 1), "dedup memory of concept \(j)")
            dedup[j] = DedupMemory(sketch: dedup[j].sketch, capacity: capacity, center: c, vectors: v, next: next)
        }
    }

    // MARK: Framing

    /// Checks magic, version, length and CRC; returns the version and the payload's byte range.
    static func payload(of bytes: [UInt8]) throws -> (version: UInt32, range: Range<Int>) {
        let m = checkpointMagic
        guard bytes.count >= m.count, Array(bytes[0..<m.count]) == m else {
            throw bytes.count < m.count && bytes == Array(m.prefix(bytes.count)) ? CheckpointError.truncated : .badMagic
        }
        var header = ByteReader(bytes, from: m.count)
        let version = try header.u32()
        guard (oldestReadableVersion...checkpointVersion).contains(version) else {
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
        return (version, payloadStart..<payloadEnd)
    }

    /// Splits a version-5 or -6 payload into its sections, each a reader bounded to its body.
    static func sections(_ bytes: [UInt8], _ payload: Range<Int>, version: UInt32) throws -> [CheckpointSection: ByteReader] {
        var r = ByteReader(bytes, from: payload.lowerBound, to: payload.upperBound)
        var found: [CheckpointSection: ByteReader] = [:]
        while r.offset < payload.upperBound {
            let tag = String(decoding: try r.take(4), as: UTF8.self)
            let length = try r.u64()
            guard length <= UInt64(payload.upperBound - r.offset) else { throw CheckpointError.truncated }
            guard let section = CheckpointSection(rawValue: tag) else { throw CheckpointError.malformed("unknown section \(tag)") }
            guard found[section] == nil else { throw CheckpointError.malformed("section \(tag) appears twice") }
            found[section] = ByteReader(bytes, from: r.offset, to: r.offset + Int(length))
            _ = try r.take(Int(length))
        }
        for section in CheckpointSection.engine where found[section] == nil {
            throw CheckpointError.malformed("section \(section.rawValue) is missing")
        }
        if version < 6 && found[.order] != nil { throw CheckpointError.malformed("section ORDR in a version-5 checkpoint") }
        return found
    }

    static func requireEnd(_ r: ByteReader, _ what: String) throws {
        try CheckpointError.require(r.offset == r.end, "\(r.end - r.offset) unread bytes in \(what)")
    }

    /// The stored options and dimension, checked against the running configuration.
    static func readSavedOptions(_ r: inout ByteReader, against options: PruningOptions,
                                 expectedDimension: Int?) throws -> (PruningOptions, Int) {
        let saved = try EntryCoding.readOptions(&r)
        let d = try r.int()
        if saved.clusters != options.clusters {
            throw CheckpointError.incompatibleSetting(.clusters, stored: "\(saved.clusters)", configured: "\(options.clusters)")
        }
        if saved.seed != options.seed {
            throw CheckpointError.incompatibleSetting(.seed, stored: "\(saved.seed)", configured: "\(options.seed)")
        }
        // `update` auto adopts the checkpoint's choice (and an engine saved with frozen or online).
        if saved.update != options.update && options.update != .auto {
            throw CheckpointError.incompatibleSetting(.update, stored: saved.update.rawValue, configured: options.update.rawValue)
        }
        if let expectedDimension, expectedDimension != d { throw CheckpointError.incompatible("dimension \(d) in checkpoint, \(expectedDimension) configured") }
        // A forged dimension must not size allocations (fuzz-checkpoint: d ≈ 2^48 trapped in SignSketch).
        guard d > 0, d <= StreamingPruner.maxCheckpointDimension, saved.isValid else {
            throw CheckpointError.malformed("invalid stored options or dimension")
        }
        return (saved, d)
    }

    static func emptyEngine(_ saved: PruningOptions, dimension d: Int) throws -> StreamingPruner {
        do { return try StreamingPruner(options: saved, dimension: d) } catch { throw CheckpointError.malformed("\(error)") }
    }
}
