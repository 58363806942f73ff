// The version-4 checkpoint writer, kept for tests only: it writes what the
// version-4 build wrote (the flat payload of EngineCheckpoint+Version4.swift),
// so tests can make version-3 and -4 bytes from any engine state. The
// fixtures in Fixtures/ are the real version-4 build's output; this is checked
// against them (PreviousFormatTests).
@testable import PrunerCore

extension PairedPruner {
    /// What the version-4 build wrote for this engine and these waiting records: their ids and
    /// origins in the warm-up buffer and the held queue, rejections held in their places.
    func checkpointVersion4() -> [UInt8] { engine.checkpointVersion4(order: order) }
}

extension StreamingPruner {
    func checkpointVersion4(order: ArrivalOrder) -> [UInt8] {
        let waiting = Array(order.waiting)
        // The warm-up buffer's records come first in the order, then the held ones.
        var warmEnd = 0, rows = 0
        while rows < warmupBuffer.count { if waiting[warmEnd].row >= 0 { rows += 1 }; warmEnd += 1 }
        if warming { warmEnd = waiting.count }
        var warmEntries = [RecordBatch.Entry](), row: Int32 = 0
        for var e in waiting[..<warmEnd] {
            if e.row >= 0 { e.row = row; row += 1 }
            warmEntries.append(e)
        }
        // Held records with the rejections between them (kind normal, no concept, a zero row).
        var held = [(RecordBatch.Entry, HeldQueue.Record, Int?)]()
        var next = 0
        for e in waiting[warmEnd...] {
            if e.row >= 0 {
                held.append((e, queue.records[next], next)); next += 1
            } else {
                held.append((e, HeldQueue.Record(cluster: -1, distance: 0), nil))   // epoch 0, as that build held them
            }
        }
        var rejectedCounts = [Int](repeating: 0, count: RejectReason.allCases.count)
        for (i, reason) in RejectReason.allCases.enumerated() { rejectedCounts[i] = order.rejected[reason] ?? 0 }
        var w = ByteWriter()
        EntryCoding.write(options, to: &w)
        w.int(dimension)
        w.floats(concepts.centroids)
        w.int(concepts.statistics.count)
        for s in concepts.statistics {
            w.int(s.count); w.u64(s.distanceSum); w.u32s(s.histogram); w.int(s.kept); w.int(s.dropped); w.floats(s.reservoir)
        }
        w.bool(warming)
        EntryCoding.write(entries: warmEntries, to: &w)
        w.floats(warmupBuffer.vectors)
        w.int(held.count)
        for (entry, h, _) in held {
            EntryCoding.write(entry, to: &w); w.u32(UInt32(bitPattern: h.cluster)); w.f32(h.distance)
            w.u8(h.kind.rawValue); w.f32(h.fixedThreshold)
        }
        w.int(queue.valid); w.int(arrivals)
        w.ints(quota.quotas); w.doubles(quota.rates); w.floats(quota.thresholds); w.doubles(quota.dInter)
        w.bool(quota.dInterStale); w.ints(quota.decided)
        w.floats(moves.sums); w.ints(moves.counts)
        w.rng(reservoirRNG); w.rng(keepRNG)
        w.int(totalSeen + rejectedCounts.reduce(0, +) + waiting.filter { $0.row < 0 && !$0.isDuplicateID }.count); w.int(totalKept); w.int(totalDropped); w.ints(rejectedCounts)
        w.int(QuotaPolicy.deficitHorizon); w.f64(1)
        w.int(dedup.count)
        for m in dedup { w.floats(m.center); w.halves(m.vectors); w.int(m.next) }
        w.int(duplicateCount); w.int(lowScoreCount); w.ints(queue.perConcept); w.ints(concepts.lastArrival)
        w.f32(drift.farThreshold); w.floats(drift.rows); w.int(drift.next); w.int(drift.spawned); w.bool(quota.liveQuotas)
        w.rng(decayRNG)
        w.bool(movesCentroids); w.f64(orderDivergence ?? .nan); w.bool(quota.dInterDeferrable); w.int(quota.dInterAt)
        w.u32(concepts.epoch)
        w.u32s(held.map(\.1.epoch))
        let d = dimension
        let stored = queue.rows.isEmpty ? [] : Array(queue.rows[(queue.rowsStart * d)...])
        w.halves(stored.isEmpty ? [] : held.flatMap { item -> [Float16] in
            guard let index = item.2 else { return [Float16](repeating: 0, count: d) }
            return Array(stored[(index * d)..<(index * d + d)])
        })
        var out = ByteWriter()
        out.bytes = Self.checkpointMagic
        out.u32(4)
        out.u64(UInt64(w.bytes.count))
        out.bytes.append(contentsOf: w.bytes)
        out.u32(CRC32.checksum(out.bytes))
        return out.bytes
    }
}
