// fuzz-checkpoint: restoring an engine from state-directory bytes.

import PrunerCore
#if canImport(Glibc)
import Glibc
#endif

/// Restores from the input; a restored engine must re-save the same bytes,
/// and must go on deciding records without trapping.
enum CheckpointFuzzing {
    /// The running configuration the loader is given; the seed corpus is saved with it.
    /// `update` auto accepts a checkpoint of any update mode.
    static let options: PruningOptions = {
        var o = PruningOptions()
        o.clusters = 3; o.warmup = 24; o.lookahead = 6; o.recomputeEvery = 8; o.kmeansIterations = 3
        o.update = .auto
        return o
    }()

    /// The largest dimension the target drives records through after a restore (time per input).
    static let driveDimensionLimit = 64

    /// Control byte bit 0: rewrite the CRC-32s (bit 1: the length fields) so that
    /// mutations reach the payload parsers instead of stopping at the checksum.
    /// The rest is a checkpoint file: a resume point (`PRNRESM`) wrapping an
    /// engine checkpoint, or a bare engine checkpoint (`PRNCKPT`), read as
    /// `prunerd serve` reads its state directory.
    static func run(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        guard let control = input.first else { return }
        var bytes = Array(payload(input))
        var engineBytes = bytes
        if ResumePoint.isResumePoint(bytes) {
            fixResumePoint(&bytes, control: control)
            guard let point = try? ResumePoint(decoding: bytes) else { return }
            guard let again = try? ResumePoint(decoding: point.encoded()), same(again, point) else {
                throw FuzzFailure("resume point round trip is not exact")
            }
            // `--unique-ids`: the id filter section restores exactly, or not at all.
            if let section = point.idFilter, let filter = try? IDFilter(checkpoint: section) {
                guard sameBytes(filter.checkpoint(), section) else { throw FuzzFailure("id filter round trip is not exact") }
                _ = filter.contains("fuzz-0")
            }
            engineBytes = point.engine
            guard !engineBytes.isEmpty else { return }
        } else {
            fixEngineCheckpoint(&engineBytes, control: control)
        }
        try restore(engineBytes)
    }

    /// Byte arrays compared with `memcmp`, not element by element: under
    /// `-sanitize=fuzzer` every comparison in a Swift loop is traced, and comparing
    /// 50 KB engines that way was a fifth of the time per input.
    static func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }

    /// Two resume points are equal: their fields, the engine and filter bytes by `sameBytes`.
    static func same(_ a: ResumePoint, _ b: ResumePoint) -> Bool {
        var x = a, y = b
        x.engine = []; y.engine = []; x.idFilter = x.idFilter.map { _ in [] }; y.idFilter = y.idFilter.map { _ in [] }
        return x == y && sameBytes(a.engine, b.engine) && sameBytes(a.idFilter ?? [], b.idFilter ?? [])
    }

    /// Rewrites a resume point's section CRC and engine length, then its engine's own fields.
    static func fixResumePoint(_ bytes: inout [UInt8], control: UInt8) {
        guard bytes.count >= 20 else { return }
        let length = readU64(bytes, at: 12)
        guard length <= UInt64(bytes.count), 20 + Int(length) + 12 <= bytes.count else { return }
        let end = 20 + Int(length)
        if control & 1 != 0 { writeU32(CRC32.checksum(bytes[0..<end]), into: &bytes, at: end) }
        if control & 2 != 0 { writeU64(UInt64(bytes.count - end - 12), into: &bytes, at: end + 4) }
        var engine = Array(bytes[(end + 12)...])
        fixEngineCheckpoint(&engine, control: control)
        bytes.replaceSubrange((end + 12)..., with: engine)
    }

    /// Rewrites an engine checkpoint's payload length (bit 1) and trailing CRC-32 (bit 0).
    static func fixEngineCheckpoint(_ bytes: inout [UInt8], control: UInt8) {
        if control & 2 != 0, bytes.count >= 24 { writeU64(UInt64(bytes.count - 24), into: &bytes, at: 12) }
        if control & 1 != 0, bytes.count >= 4 {
            writeU32(CRC32.checksum(bytes[0..<(bytes.count - 4)]), into: &bytes, at: bytes.count - 4)
        }
    }

    static func readU64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    static func writeU64(_ value: UInt64, into bytes: inout [UInt8], at offset: Int) {
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    static func writeU32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    /// Restores an engine; it must re-save the same bytes and go on deciding.
    ///
    /// When the re-saved bytes are the input's (a checkpoint in canonical form,
    /// as the seeds and most of their mutations are), restoring them again
    /// would rebuild the same engine from the same bytes: the second round trip
    /// is only run when they differ, which is when it can find something.
    static func restore(_ bytes: [UInt8]) throws(FuzzFailure) {
        guard var (engine, order) = try? StreamingPruner.restoring(checkpoint: bytes, options: options) else { return }
        let saved = engine.checkpoint(order: order)
        if !sameBytes(saved, bytes) {
            try roundTrip(saved)
        }
        guard engine.dimension <= driveDimensionLimit else { return }
        drive(&engine, &order, records: 12)
    }

    /// A checkpoint an engine wrote restores, and re-saves to the same bytes.
    static func roundTrip(_ saved: [UInt8]) throws(FuzzFailure) {
        guard let again = try? StreamingPruner.restoring(checkpoint: saved, options: options) else {
            throw FuzzFailure("a restored engine's checkpoint does not restore")
        }
        guard sameBytes(again.engine.checkpoint(order: again.order), saved) else { throw FuzzFailure("checkpoint round trip is not exact") }
    }

    /// Submits a few deterministic records and finishes, as a restarted daemon would.
    static func drive(_ engine: inout StreamingPruner, _ order: inout ArrivalOrder, records: Int) {
        let dimension = engine.dimension
        var batch = RecordBatch(dimension: dimension)
        for r in 0..<records {
            let vector = (0..<dimension).map { Float(($0 * 7 + r * 3) % 11) - 5 + Float(r) / 16 }
            batch.append(origin: RecordOrigin(source: 9, seq: UInt64(r)), id: "fuzz-\(r)", score: nil, vector: vector)
        }
        order.append(batch)
        let decided = order.pair(engine.submit(batch.rows)).count + order.pair(engine.finish()).count
        precondition(decided <= records + 1_000_000, "implausible number of decisions")
    }
}
