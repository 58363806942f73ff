// fuzz-checkpoint: restoring an engine from state-directory bytes.

import PrunerCore

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

    /// Control byte bit 0: rewrite the trailing CRC-32 (and bit 1: the payload length)
    /// so that mutations reach the payload parser instead of stopping at the checksum.
    static func run(_ input: UnsafeRawBufferPointer) throws(FuzzFailure) {
        guard let control = input.first else { return }
        var bytes = Array(payload(input))
        if control & 2 != 0, bytes.count >= 24 {
            let length = UInt64(bytes.count - 24)
            for i in 0..<8 { bytes[12 + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt64(i))) }
        }
        if control & 1 != 0, bytes.count >= 4 {
            let crc = CRC32.checksum(bytes[0..<(bytes.count - 4)])
            for i in 0..<4 { bytes[bytes.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        }
        guard var engine = try? StreamingPruner(checkpoint: bytes, options: options) else { return }
        let saved = engine.checkpoint()
        guard let again = try? StreamingPruner(checkpoint: saved, options: options) else {
            throw FuzzFailure("a restored engine's checkpoint does not restore")
        }
        guard again.checkpoint() == saved else { throw FuzzFailure("checkpoint round trip is not exact") }
        guard engine.dimension <= driveDimensionLimit else { return }
        drive(&engine, records: 12)
    }

    /// Submits a few deterministic records and finishes, as a restarted daemon would.
    static func drive(_ engine: inout StreamingPruner, records: Int) {
        let dimension = engine.dimension
        var batch = RecordBatch(dimension: dimension)
        for r in 0..<records {
            let vector = (0..<dimension).map { Float(($0 * 7 + r * 3) % 11) - 5 + Float(r) / 16 }
            batch.append(origin: RecordOrigin(source: 9, seq: UInt64(r)), id: "fuzz-\(r)", score: nil, vector: vector)
        }
        let decided = engine.submit(batch).count + engine.finish().count
        precondition(decided <= records + 1_000_000, "implausible number of decisions")
    }
}
