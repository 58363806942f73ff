// Stable byte codes of the enums a checkpoint stores. A case's code never changes
// and a new case takes a new code, so reordering or adding cases cannot change
// what old checkpoints mean (codes were `allCases` indices before version 5; the
// values below are those indices, so versions 3 and 4 read alike).

extension KeepMode {
    /// This mode's checkpoint code.
    var checkpointCode: UInt8 {
        switch self {
        case .hard: return 0
        case .easy: return 1
        case .random: return 2
        }
    }

    init(checkpointCode code: UInt8) throws {
        switch code {
        case 0: self = .hard
        case 1: self = .easy
        case 2: self = .random
        default: throw CheckpointError.malformed("keep mode \(code)")
        }
    }
}

extension CentroidUpdate {
    /// This mode's checkpoint code.
    var checkpointCode: UInt8 {
        switch self {
        case .frozen: return 0
        case .online: return 1
        case .auto: return 2
        }
    }

    init(checkpointCode code: UInt8) throws {
        switch code {
        case 0: self = .frozen
        case 1: self = .online
        case 2: self = .auto
        default: throw CheckpointError.malformed("update mode \(code)")
        }
    }
}

extension RejectReason {
    /// This reason's checkpoint code, 1…9 (0 is a valid record, 255 a repeated id).
    var checkpointCode: UInt8 {
        switch self {
        case .badDimension: return 1
        case .nonFinite: return 2
        case .zeroVector: return 3
        case .badID: return 4
        case .badDtype: return 5
        case .badFlags: return 6
        case .badLength: return 7
        case .badJSON: return 8
        case .tooLarge: return 9
        }
    }

    init?(checkpointCode code: UInt8) {
        guard let reason = RejectReason.allCases.first(where: { $0.checkpointCode == code }) else { return nil }
        self = reason
    }
}

extension CheckpointError {
    /// Throws `.malformed(what)` unless `condition` holds.
    static func require(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw CheckpointError.malformed(what()) }
    }
}

/// How options and records are stored in every checkpoint version.
enum EntryCoding {
    /// The entry's reason byte for a repeated id (`--unique-ids`); 1…9 are reject reasons,
    /// 0 a valid record.
    static let duplicateIDCode: UInt8 = 255

    static func write(_ e: RecordBatch.Entry, to w: inout ByteWriter) {
        w.u32(e.origin.source); w.u64(e.origin.seq); w.string(e.id)
        w.bool(e.score != nil); w.f32(e.score ?? 0)
        w.u8(e.isDuplicateID ? duplicateIDCode : e.rejection?.checkpointCode ?? 0)
        w.u32(UInt32(bitPattern: e.row))
    }

    static func read(_ r: inout ByteReader) throws -> RecordBatch.Entry {
        let source = try r.u32(), seq = try r.u64(), id = try r.string()
        let hasScore = try r.bool(), score = try r.f32()
        let code = try r.u8()
        let isDuplicateID = code == duplicateIDCode
        let rejection = code == 0 || isDuplicateID ? nil : RejectReason(checkpointCode: code)
        guard code == 0 || isDuplicateID || rejection != nil else { throw CheckpointError.malformed("reject reason \(code)") }
        let row = Int32(bitPattern: try r.u32())
        return RecordBatch.Entry(origin: RecordOrigin(source: source, seq: seq), id: id, score: hasScore ? score : nil,
                                 rejection: rejection, row: row, isDuplicateID: isDuplicateID)
    }

    static func write(entries: [RecordBatch.Entry], to w: inout ByteWriter) {
        w.int(entries.count)
        for e in entries { write(e, to: &w) }
    }

    static func readEntries(_ r: inout ByteReader) throws -> [RecordBatch.Entry] {
        let n = try r.count(elementSize: 1)
        return try (0..<n).map { _ in try read(&r) }
    }

    /// Whether the entries' rows are those `RecordBatch` gives: 0, 1, 2, … in
    /// order for the entries with a vector, -1 for the others. A stored row past
    /// the batch's vectors made the engine read beyond them when the restored
    /// warm-up buffer was decided (found by fuzz-checkpoint, AddressSanitizer:
    /// heap-buffer-overflow in `ConceptStatistics.add`).
    static func rowsAreSequential(_ entries: [RecordBatch.Entry]) -> Bool {
        var next: Int32 = 0
        for entry in entries {
            if entry.row < 0 {
                // No vector: a rejection or a repeated id, nothing else.
                guard entry.row == -1, entry.rejection != nil || entry.isDuplicateID else { return false }
                continue
            }
            guard entry.row == next, entry.rejection == nil, !entry.isDuplicateID else { return false }
            next += 1
        }
        return true
    }

    static func write(_ o: PruningOptions, to w: inout ByteWriter) {
        w.f64(o.keepRatio); w.int(o.clusters); w.f64(o.temperature); w.int(o.neighbors); w.f64(o.minPerCluster)
        w.u8(o.keep.checkpointCode); w.u64(o.seed); w.int(o.kmeansIterations)
        w.int(o.warmup); w.int(o.recomputeEvery); w.u8(o.update.checkpointCode)
        w.int(o.lookahead)
        w.f64(o.dedupThreshold); w.int(o.dedupMemory); w.bool(o.minScore != nil); w.f32(o.minScore ?? 0)
        w.int(o.halfLife); w.int(o.spawnAfter); w.f64(o.driftQuantile)
    }

    static func readOptions(_ r: inout ByteReader) throws -> PruningOptions {
        var o = PruningOptions()
        o.keepRatio = try r.f64(); o.clusters = try r.int(); o.temperature = try r.f64(); o.neighbors = try r.int()
        o.minPerCluster = try r.f64()
        o.keep = try KeepMode(checkpointCode: try r.u8())
        o.seed = try r.u64(); o.kmeansIterations = try r.int(); o.warmup = try r.int(); o.recomputeEvery = try r.int()
        o.update = try CentroidUpdate(checkpointCode: try r.u8())
        o.lookahead = try r.int()
        o.dedupThreshold = try r.f64(); o.dedupMemory = try r.int()
        let hasMin = try r.bool(), minScore = try r.f32()
        o.minScore = hasMin ? minScore : nil
        o.halfLife = try r.int(); o.spawnAfter = try r.int(); o.driftQuantile = try r.f64()
        return o
    }
}
