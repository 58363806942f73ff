// A repeated id (`--unique-ids`) passes through the engine like a rejection:
// answered drop/duplicate_id in its place, never in the engine's statistics,
// and it survives a checkpoint while held.
import Testing
@testable import PrunerCore

@Suite struct DuplicateIDPassThroughTests {
    static let data = TestData.mixture(rows: 1200, dimension: 12, concepts: 6, seed: 3)

    func options() -> PruningOptions {
        var o = PruningOptions()
        o.clusters = 6; o.warmup = 300; o.lookahead = 200; o.recomputeEvery = 90; o.kmeansIterations = 8
        return o
    }

    /// Records 0..<n, with every 10th followed by a repeated-id entry.
    func batch(_ range: Range<Int>) -> RecordBatch {
        var b = RecordBatch(dimension: 12)
        var seq: UInt64 = UInt64(range.lowerBound * 2)
        for i in range {
            b.append(origin: RecordOrigin(source: 0, seq: seq), id: "\(i)", score: nil,
                     vector: Self.data.vectors[(i * 12)..<(i * 12 + 12)])
            seq += 1
            if i % 10 == 0 {
                b.appendDuplicateID(origin: RecordOrigin(source: 0, seq: seq), id: "\(i)")
                seq += 1
            }
        }
        return b
    }

    @Test func repeatsAreAnsweredInOrderAndLeaveTheStatisticsAlone() throws {
        var engine = try PairedPruner(options: options(), dimension: 12)
        var out = engine.submit(batch(0..<1200))
        out.append(contentsOf: engine.finish())
        let seqs = out.entries.map(\.origin.seq)
        #expect(seqs == seqs.sorted(), "input order kept")
        let repeats = out.decisions.filter { $0 == .duplicateID }
        #expect(repeats.count == 120)
        #expect(out.decisions.allSatisfy { $0.verdict != .reject })
        for (entry, decision) in zip(out.entries, out.decisions) {
            #expect(entry.isDuplicateID == (decision == .duplicateID))
            if entry.isDuplicateID { #expect(decision.reason.logValue == "duplicate_id" && decision.verdict == .drop) }
        }
        // The engine's figures are those of the 1,200 distinct records only.
        var plain = try PairedPruner(options: options(), dimension: 12)
        var reference = RecordBatch(dimension: 12)
        for i in 0..<1200 {
            reference.append(origin: RecordOrigin(source: 0, seq: UInt64(i)), id: "\(i)", score: nil,
                             vector: Self.data.vectors[(i * 12)..<(i * 12 + 12)])
        }
        var plainOut = plain.submit(reference)
        plainOut.append(contentsOf: plain.finish())
        #expect(zip(out.entries, out.decisions).filter { !$0.0.isDuplicateID }.map(\.1) == plainOut.decisions)
        #expect(engine.snapshot() == plain.snapshot())
    }

    @Test func aHeldRepeatSurvivesACheckpoint() throws {
        var first = try PairedPruner(options: options(), dimension: 12)
        var out = first.submit(batch(0..<700))
        let bytes = first.checkpoint()
        var second = try PairedPruner(checkpoint: bytes, options: options(), dimension: 12)
        #expect(second.checkpoint() == bytes)
        out.append(contentsOf: second.submit(batch(700..<1200)))
        out.append(contentsOf: second.finish())
        #expect(out.decisions.filter { $0 == .duplicateID }.count == 120)
        var whole = try PairedPruner(options: options(), dimension: 12)
        var reference = whole.submit(batch(0..<700))
        reference.append(contentsOf: whole.submit(batch(700..<1200)))
        reference.append(contentsOf: whole.finish())
        #expect(out.decisions == reference.decisions)
    }
}
