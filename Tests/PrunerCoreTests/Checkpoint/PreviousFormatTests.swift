// Checkpoints written by the previous format (version 4, one flat payload) still
// restore and continue exactly as the build that wrote them would have.
//
// The fixtures in Fixtures/ were written by the version-4 build (commit 201d096)
// from the runs below, cut mid-stream, with the decisions that build then made on
// the rest (an FNV-1a digest of every decision's fields, bit patterns included).
// They are not regenerated: a later format must keep reading these bytes.
// (`PRUNERD_WRITE_V4_FIXTURES=1` wrote them with that build's `checkpoint()`; it now
// writes them with the test-only `checkpointVersion4()`, which must give the same bytes.)
import Foundation
import Testing
@testable import PrunerCore

@Suite struct PreviousFormatTests {
    /// One fixture: engine options, where the stream is cut, and the data.
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var options: PruningOptions
        var cut: Int
        var conceptOrder: Bool
        var description: String { name }
    }

    static let cases: [Case] = {
        var base = PruningOptions()
        base.clusters = 6; base.warmup = 400; base.lookahead = 250; base.recomputeEvery = 90; base.kmeansIterations = 8
        var online = base
        online.update = .online; online.dedupThreshold = 0.02; online.dedupMemory = 64
        var drifting = base
        drifting.update = .auto; drifting.spawnAfter = 40; drifting.driftQuantile = 0.9; drifting.halfLife = 3000
        drifting.minScore = 0.2
        var warming = base
        warming.update = .frozen; warming.keep = .random
        return [
            Case(name: "online-dedup", options: online, cut: 1300, conceptOrder: false),
            Case(name: "auto-drift-decay", options: drifting, cut: 1500, conceptOrder: true),
            Case(name: "warming-random", options: warming, cut: 250, conceptOrder: false),
        ]
    }()

    static let dimension = 12
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The mixture, concept-ordered or as drawn, every 23rd record rejected, every record
    /// scored; rows appended through the contiguous (decoder) path.
    static func batches(_ c: Case) -> [RecordBatch] {
        let d = dimension
        let data = TestData.mixture(rows: 2500, dimension: d, concepts: 6, seed: 8)
        var order = Array(0..<data.labels.count)
        if c.conceptOrder { order.sort { (data.labels[$0], $0) < (data.labels[$1], $1) } }
        var out = [RecordBatch](), batch = RecordBatch(dimension: d)
        for (i, row) in order.enumerated() {
            if i == c.cut { out.append(batch); batch = RecordBatch(dimension: d) }
            let origin = RecordOrigin(source: 0, seq: UInt64(i))
            if i % 23 == 22 {
                batch.appendRejection(origin: origin, id: "r\(i)", reason: .nonFinite)
                continue
            }
            let score = Float(i % 10) / 10
            data.vectors[(row * d)..<(row * d + d)].withContiguousStorageIfAvailable { vector in
                _ = batch.append(origin: origin, id: "\(i)", score: score, vector: vector)
            }
        }
        out.append(batch)
        return out
    }

    /// FNV-1a over each decision's id, verdict, reason, cluster and the bit patterns of distance and threshold.
    static func digest(_ out: DecidedRecords) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (entry, decision) in zip(out.entries, out.decisions) {
            let line = "\(entry.id) \(decision.verdict.rawValue) \(decision.reason.logValue) \(decision.cluster.map(String.init) ?? "-") "
                + "\(decision.distance.map { String($0.bitPattern) } ?? "-") \(decision.threshold.map { String($0.bitPattern) } ?? "-")\n"
            for byte in line.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        return "\(out.count) \(String(hash, radix: 16))"
    }

    static func continuation(_ engine: inout PairedPruner, _ rest: RecordBatch) -> DecidedRecords {
        var out = engine.submit(rest)
        out.append(contentsOf: engine.finish())
        return out
    }

    @Test("a version-4 checkpoint restores and decides the rest as the version-4 build did", arguments: cases)
    func restoresVersion4(_ c: Case) throws {
        let parts = Self.batches(c)
        let checkpointURL = Self.fixtures.appendingPathComponent("\(c.name).v4.prnckpt")
        let digestURL = Self.fixtures.appendingPathComponent("\(c.name).v4.decisions")
        if ProcessInfo.processInfo.environment["PRUNERD_WRITE_V4_FIXTURES"] == "1" {
            var engine = try PairedPruner(options: c.options, dimension: Self.dimension)
            _ = engine.submit(parts[0])
            let bytes = engine.checkpointVersion4()
            try Data(bytes).write(to: checkpointURL)
            try (Self.digest(Self.continuation(&engine, parts[1])) + "\n").write(to: digestURL, atomically: true, encoding: .utf8)
            return
        }
        let bytes = [UInt8](try Data(contentsOf: checkpointURL))
        #expect(bytes[8] == 4, "the fixture is a version-4 checkpoint")
        let expected = try String(contentsOf: digestURL, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var restored = try PairedPruner(checkpoint: bytes, options: c.options, dimension: Self.dimension)
        // The test-only version-4 writer writes these bytes again from the restored state.
        #expect(restored.checkpointVersion4() == bytes)
        // And the state goes on exactly through this version's format.
        var again = try PairedPruner(checkpoint: restored.checkpoint(), options: c.options, dimension: Self.dimension)
        #expect(Self.digest(Self.continuation(&restored, parts[1])) == expected)
        #expect(Self.digest(Self.continuation(&again, parts[1])) == expected)
    }
}
