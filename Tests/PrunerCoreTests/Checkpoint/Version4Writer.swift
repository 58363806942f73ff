// The version-4 checkpoint writer, kept for tests only: it writes what the
// version-4 build wrote (the flat payload of EngineCheckpoint+Version4.swift),
// so tests can make version-3 and -4 bytes from any engine state. The
// fixtures in Fixtures/ are the real version-4 build's output; this is checked
// against them (PreviousFormatTests).
@testable import PrunerCore

extension StreamingPruner {
    func checkpointVersion4() -> [UInt8] {
        var w = ByteWriter()
        EntryCoding.write(options, to: &w)
        w.int(dimension)
        w.floats(concepts.centroids)
        w.int(concepts.statistics.count)
        for s in concepts.statistics {
            w.int(s.count); w.u64(s.distanceSum); w.u32s(s.histogram); w.int(s.kept); w.int(s.dropped); w.floats(s.reservoir)
        }
        w.bool(warming)
        EntryCoding.write(entries: warmupBuffer.entries, to: &w)
        w.floats(warmupBuffer.vectors)
        w.int(queue.count)
        for h in queue.records {
            EntryCoding.write(h.entry, to: &w); w.u32(UInt32(bitPattern: h.cluster)); w.f32(h.distance)
            w.u8(h.kind.rawValue); w.f32(h.fixedThreshold)
        }
        w.int(queue.valid); w.int(arrivals)
        w.ints(quota.quotas); w.doubles(quota.rates); w.floats(quota.thresholds); w.doubles(quota.dInter)
        w.bool(quota.dInterStale); w.ints(quota.decided)
        w.floats(moves.sums); w.ints(moves.counts)
        w.rng(reservoirRNG); w.rng(keepRNG)
        w.int(totalSeen); w.int(totalKept); w.int(totalDropped); w.ints(rejected)
        w.int(QuotaPolicy.deficitHorizon); w.f64(1)
        w.int(dedup.count)
        for m in dedup { w.floats(m.center); w.halves(m.vectors); w.int(m.next) }
        w.int(duplicateCount); w.int(lowScoreCount); w.ints(queue.perConcept); w.ints(concepts.lastArrival)
        w.f32(drift.farThreshold); w.floats(drift.rows); w.int(drift.next); w.int(drift.spawned); w.bool(quota.liveQuotas)
        w.rng(decayRNG)
        w.bool(movesCentroids); w.f64(orderDivergence ?? .nan); w.bool(quota.dInterDeferrable); w.int(quota.dInterAt)
        w.u32(concepts.epoch)
        w.u32s(queue.records.map(\.epoch))
        w.halves(queue.rows.isEmpty ? [] : Array(queue.rows[(queue.rowsStart * dimension)...]))
        var out = ByteWriter()
        out.bytes = Self.checkpointMagic
        out.u32(4)
        out.u64(UInt64(w.bytes.count))
        out.bytes.append(contentsOf: w.bytes)
        out.u32(CRC32.checksum(out.bytes))
        return out.bytes
    }
}
